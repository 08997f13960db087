"""Test audio: amplitude-modulated tones with a little noise, and a data dir of them (16-bit wavs,
utterance ids ``<spk>-<n>``), for the extraction and backbone tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(n: int, f0: float, seed: int, noise: float = 0.01) -> np.ndarray:
    """``n`` samples (16 kHz) of an ``f0`` Hz tone, 3 Hz modulated, plus ``noise`` x N(0, 1)."""
    t = np.arange(n) / 16000
    rng = np.random.default_rng(seed)
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (x + noise * rng.standard_normal(n)).astype(np.float32)


def make_data(root: Path, lengths: dict[str, int], rate: int = 16000, f0: float = 100,
              f0_step: float = 30, noise: float = 0.01) -> Path:
    """A data dir of 16-bit wavs (utterance ``i`` in sorted order: ``tone(n, f0 + f0_step * i, i,
    noise)``), utt ids <spk>-<n>; returns its path."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    wavs, u2s = [], []
    for i, (utt, n) in enumerate(sorted(lengths.items())):
        path = root / "wav" / f"{utt}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(str(path), tone(n, f0 + f0_step * i, i, noise), rate, subtype="PCM_16")
        wavs.append(f"{utt} {path}")
        u2s.append(f"{utt} {utt.split('-')[0]}")
    (data / "wav.scp").write_text("\n".join(wavs) + "\n")
    (data / "utt2spk").write_text("\n".join(u2s) + "\n")
    return data
