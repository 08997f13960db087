"""Small signal helpers of the corpus generator: levels, SNR mixing, reverberation, looping."""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

PEAK = 0.99


def rms(x: np.ndarray) -> float:
    """Root mean square over the whole signal (0.0 for an empty one)."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def normalise_level(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """Scale to RMS ``level_dbfs`` dBFS, then down (never up) so the peak is at most 0.99."""
    x = np.asarray(x, dtype=np.float64)
    r = rms(x)
    if r > 0:
        x = x * (10 ** (level_dbfs / 20) / r)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > PEAK:
        x = x * (PEAK / peak)
    return x.astype(np.float32)


def loop_to_length(noise: np.ndarray, length: int, offset: int) -> np.ndarray:
    """``length`` samples of ``noise`` from ``offset``, wrapping around (MUSAN noises are often
    shorter than the speech they corrupt)."""
    if noise.size == 0:
        raise ValueError("empty noise signal")
    idx = (np.arange(length) + int(offset)) % noise.size
    return noise[idx]


def scale_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so ``10 log10(P_speech / P_noise) = snr_db`` (powers over the whole
    signals, as Kaldi and lhotse mix)."""
    ps, pn = rms(speech) ** 2, rms(noise) ** 2
    if pn == 0:
        return np.zeros_like(noise)
    return noise * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))


def reverberate(speech: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir`` aligned on its direct path (the strongest tap), same length out."""
    rir = np.asarray(rir, dtype=np.float64)
    shift = int(np.argmax(np.abs(rir)))
    y = fftconvolve(np.asarray(speech, dtype=np.float64), rir)
    return y[shift: shift + speech.size]
