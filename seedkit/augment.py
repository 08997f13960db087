"""SEED's training pairs: one seeded crop per clean utterance and K rounds of corrupted copies.

For every utterance of the clean data dir (``seed-method.md`` §1.5, done offline):

1. **crop**: ``crop_sec`` (2.015 s = 32,240 samples at 16 kHz) starting at
   ``int(u * (n - L))``; an utterance of ``n <= L`` samples is wrap-padded to ``L + 1`` and
   cropped from 0 (what SEED's loader does);
2. K rounds of three copies of that same crop:

   - ``music``: one MUSAN music recording, a random L-sample segment (wrap-padded when short),
     SNR ~ U[5, 15] dB;
   - ``noise``: one MUSAN noise recording likewise, SNR ~ U[0, 15] dB;
   - ``reverb``: one RIR, normalised to unit energy ``h / sqrt(sum(h^2))``, then
     ``scipy.signal.convolve(x, h, "full")[:L]`` (no delay compensation);

   mixing as SEED: ``clean_dB = 10 log10(mean(x^2) + 1e-4)``, likewise ``noise_dB``, noise scaled
   by ``sqrt(10^((clean_dB - noise_dB - snr) / 10))`` and added.

MUSAN is read from a data dir of the raw MUSAN files whose ``utt2spk`` value is the category
(``music``/``noise``/``speech``), as ``seedkit-prepare-corpus musan`` writes it: segments are cut
at random offsets here, so no pre-split ("musan_split") copy is needed.

Outputs:

- ``<out-clean>``: the clean crops (key = the clean utterance key), ``wav/<xx>/<utt>.wav``;
- ``<out-aug>``: SEED's multi-pair set: every clean crop itself (same key and wav file as in
  ``<out-clean>``) and its copies ``<utt>-music<k>``, ``<utt>-noise<k>``, ``<utt>-reverb<k>``
  (k = 1..K, wavs in ``<out-aug>/wav/``); ``utt2clean`` maps each to its clean key, the identity
  lines ``<utt> <utt>`` included, so it is the ``--pairs`` file of ``seedkit-train-seed`` as it
  stands; ``utt2env`` names what was applied (``clean``, ``music:<musan-key>``,
  ``noise:<musan-key>``, ``reverb:<rir-key>``); ``augment.info`` lists every copy with its source,
  offset and SNR.

Every draw comes from a generator seeded by ``(seed, utterance key)``, so the output does not depend
on how the work is split into jobs. 16-bit output is scaled down (whole crop, SNR unchanged) only if
it would clip; ``subtype="FLOAT"`` keeps exact float samples instead.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
from scipy import signal
from tqdm import tqdm

from seedkit.audio import read_audio
from seedkit.data.datadir import (
    DataDir,
    is_pipe,
    spk2utt_from_utt2spk,
    validate_data_dir,
    write_data_dir,
)
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_output, c_sorted, write_lines
from seedkit.resample import job_keys, output_path, wav_scp_lines

log = logging.getLogger(__name__)

KINDS = ("music", "noise", "reverb")
MUSIC_SNR = (5.0, 15.0)
NOISE_SNR = (0.0, 15.0)


def crop_samples(crop_sec: float, rate: int) -> int:
    """Crop length in samples (2.015 s at 16 kHz -> 32,240, SEED's ``200 * 160 + 240``)."""
    if not (math.isfinite(crop_sec) and 0 < crop_sec <= 3600):
        raise SeedkitError(f"--crop-sec must be a number of seconds in (0, 3600], got {crop_sec}")
    n = int(round(crop_sec * rate))
    if n < 1:
        raise SeedkitError(f"--crop-sec {crop_sec} gives no samples at {rate} Hz")
    return n


def utt_rng(seed: int, key: str) -> np.random.Generator:
    """The generator of one utterance: the same for the same ``(seed, key)`` in any job."""
    digest = hashlib.sha256(f"seedkit-augment\0{seed}\0{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def crop_start(n: int, length: int, u: float) -> int:
    """SEED's crop start for an ``n``-sample signal (0 when it is wrap-padded)."""
    return 0 if n <= length else int(u * (n - length))


def wrap_crop(x: np.ndarray, length: int, start: int) -> np.ndarray:
    """``x[start:start+length]``, wrap-padding ``x`` to ``length + 1`` first when too short."""
    if len(x) <= length:
        x = np.pad(x, (0, length + 1 - len(x)), mode="wrap")
    return x[start:start + length]


def snr_mix(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """SEED's additive mixing (float64): the 1e-4 power floor is part of the formula."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    clean_db = 10 * np.log10(np.mean(clean ** 2) + 1e-4)
    noise_db = 10 * np.log10(np.mean(noise ** 2) + 1e-4)
    return clean + np.sqrt(10 ** ((clean_db - noise_db - snr_db) / 10)) * noise


def reverberate(clean: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Unit-energy RIR, full convolution, truncated to the input length (SEED's reverb)."""
    rir = np.asarray(rir, dtype=np.float64)
    energy = np.sqrt(np.sum(rir ** 2))
    if not energy > 0:
        raise SeedkitError("RIR is all zeros")
    return signal.convolve(np.asarray(clean, dtype=np.float64), rir / energy,
                           mode="full")[:len(clean)]


# ----------------------------------------------------------------------------- audio sources

@dataclass
class Source:
    """One audio item of a data dir: where it is and how long (samples)."""

    key: str
    entry: str
    where: Path
    line: int
    offset: int = 0          # first sample of the utterance in the recording (segments)
    length: Optional[int] = None  # samples; None until measured


class AudioTable:
    """Reads (parts of) the utterances of a data dir at one rate; path entries are read
    partially, pipes are decoded once and cached."""

    def __init__(self, dd: DataDir, rate: int, what: str):
        self.dd, self.rate, self.what = dd, rate, what
        wav_scp = (dd.path / "wav.scp") if dd.path else Path("wav.scp")
        lines = wav_scp_lines(wav_scp) if dd.path and wav_scp.is_file() else {}
        self.sources: dict[str, Source] = {}
        for utt in dd.utt2spk:
            rec = dd.recording_of(utt)
            if rec not in dd.wav_scp:
                raise SeedkitError(f"utterance {utt!r} has no wav.scp entry", wav_scp)
            src = Source(utt, dd.wav_scp[rec], wav_scp, lines.get(rec, 0))
            if dd.segments is not None:
                _, start, end = dd.segments[utt]
                src.offset = int(round(start * rate))
                if end >= 0:
                    src.length = int(round(end * rate)) - src.offset
            self.sources[utt] = src
        self._decoded = functools.lru_cache(maxsize=8)(self._decode)

    def _decode(self, entry: str, where: Path, line: int, key: str) -> np.ndarray:
        x, _ = read_audio(entry, self.rate, where=where, line=line, key=key)
        return x

    def _info(self, src: Source):
        try:
            info = sf.info(src.entry)
        except Exception as err:
            raise SeedkitError(f"{src.key!r}: cannot read {src.entry} as audio ({err}); the file "
                               "is corrupt or not a sound file", src.where, src.line) from None
        if info.samplerate != self.rate:
            raise SeedkitError(f"{src.key!r}: {src.entry} has sample rate {info.samplerate} Hz, "
                               f"expected {self.rate}; resample first (seedkit-resample-data-dir)",
                               src.where, src.line)
        if info.channels != 1:
            raise SeedkitError(f"{src.key!r}: {src.entry} has {info.channels} channels; "
                               "resample to mono first (seedkit-resample-data-dir)",
                               src.where, src.line)
        return info

    def length(self, key: str) -> int:
        """Number of samples of utterance ``key``."""
        src = self.sources[key]
        if src.length is None:
            if is_pipe(src.entry) or not os.path.isfile(src.entry):
                src.length = len(self._decoded(src.entry, src.where, src.line, key)) - src.offset
            else:
                src.length = self._info(src).frames - src.offset
            if src.length <= 0:
                raise SeedkitError(f"{key!r} has no samples", src.where, src.line)
        return src.length

    def read(self, key: str, start: int = 0, frames: Optional[int] = None) -> np.ndarray:
        """Samples ``[start, start + frames)`` of utterance ``key`` (float64)."""
        src = self.sources[key]
        n = self.length(key)
        frames = n - start if frames is None else min(frames, n - start)
        if is_pipe(src.entry) or not os.path.isfile(src.entry):
            x = self._decoded(src.entry, src.where, src.line, key)
            return np.asarray(x[src.offset + start: src.offset + start + frames], np.float64)
        self._info(src)
        try:
            x, _ = sf.read(src.entry, start=src.offset + start, frames=frames, dtype="float64",
                           always_2d=True)
        except Exception as err:
            raise SeedkitError(f"{key!r}: cannot read {src.entry} ({err}); the file is corrupt",
                               src.where, src.line) from None
        return x[:, 0]

    def crop(self, key: str, length: int, u: float) -> tuple[np.ndarray, int]:
        """SEED's random ``length``-sample crop of ``key`` at draw ``u``: ``(samples, start)``."""
        n = self.length(key)
        start = crop_start(n, length, u)
        if n <= length:
            return wrap_crop(self.read(key), length, 0), 0
        return self.read(key, start, length), start


# ----------------------------------------------------------------------------- the plan

@dataclass
class Copy:
    """One corrupted copy of a clean crop."""

    key: str
    kind: str      # music | noise | reverb
    source: str    # MUSAN or RIR key
    snr: Optional[float] = None
    u_offset: float = 0.0


def plan_copies(rng: np.random.Generator, utt: str, rounds: int, music: list[str],
                noise: list[str], rirs: list[str]) -> list[Copy]:
    """Draw the K x {music, noise, reverb} copies of one utterance (fixed draw order)."""
    out = []
    for k in range(1, rounds + 1):
        i = int(rng.integers(len(music)))
        out.append(Copy(f"{utt}-music{k}", "music", music[i], u_offset=float(rng.random()),
                        snr=float(rng.uniform(*MUSIC_SNR))))
        i = int(rng.integers(len(noise)))
        out.append(Copy(f"{utt}-noise{k}", "noise", noise[i], u_offset=float(rng.random()),
                        snr=float(rng.uniform(*NOISE_SNR))))
        i = int(rng.integers(len(rirs)))
        out.append(Copy(f"{utt}-reverb{k}", "reverb", rirs[i]))
    return out


def write_audio(path: Path, x: np.ndarray, rate: int, subtype: str) -> float:
    """Write ``x`` atomically; 16-bit output is scaled down if it would clip. Returns the gain."""
    gain = 1.0
    if subtype == "PCM_16":
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 32767 / 32768:
            gain = 0.999 / peak
    with atomic_output(path) as tmp:
        sf.write(str(tmp), np.asarray(x * gain, dtype=np.float32), rate, subtype=subtype,
                 format="WAV")
    return gain


def _category_keys(musan: DataDir, where: Path) -> tuple[list[str], list[str]]:
    cats: dict[str, list[str]] = {}
    for utt in c_sorted(musan.utt2spk):
        cats.setdefault(musan.utt2spk[utt], []).append(utt)
    for cat in ("music", "noise"):
        if not cats.get(cat):
            raise SeedkitError(f"the MUSAN data dir has no {cat} recordings (utt2spk value "
                               f"'{cat}'); prepare it with seedkit-prepare-corpus musan",
                               where / "utt2spk")
    return cats["music"], cats["noise"]


def _load(path: PathLike, what: str) -> DataDir:
    path = Path(path)
    if not path.is_dir():
        raise SeedkitError(f"{what} data dir not found", path)
    dd = validate_data_dir(path, check_files=False, check_spk_sort=False)
    if not dd.utt2spk:
        raise SeedkitError(f"{what} data dir has no utterances", path / "utt2spk")
    return dd


class Augmenter:
    """Holds the inputs; :meth:`run` makes the wavs of some utterances, :meth:`write_dirs` the
    data dirs."""

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 out_clean: PathLike, out_aug: PathLike, rounds: int = 1, crop_sec: float = 2.015,
                 seed: int = 0, sample_rate: int = 16000, subtype: str = "PCM_16"):
        if rounds < 1:
            raise SeedkitError(f"--rounds must be >= 1, got {rounds}")
        if subtype not in ("PCM_16", "FLOAT"):
            raise SeedkitError(f"wav subtype must be PCM_16 or FLOAT, got {subtype!r}")
        self.clean = _load(clean_dir, "clean")
        musan = _load(musan_dir, "MUSAN")
        rirs = _load(rirs_dir, "RIR")
        self.music, self.noise = _category_keys(musan, Path(musan_dir))
        self.rir_keys = c_sorted(rirs.utt2spk)
        self.src = AudioTable(self.clean, sample_rate, "clean")
        self.musan = AudioTable(musan, sample_rate, "MUSAN")
        self.rirs = AudioTable(rirs, sample_rate, "RIR")
        self.out_clean, self.out_aug = Path(out_clean), Path(out_aug)
        if self.out_clean.resolve() == self.out_aug.resolve():
            raise SeedkitError("the clean-crop and augmented output dirs must differ",
                               self.out_aug)
        self.rounds, self.seed, self.rate, self.subtype = rounds, seed, sample_rate, subtype
        self.length = crop_samples(crop_sec, sample_rate)
        self.utts = c_sorted(self.clean.utt2spk)
        # RIRS_NOISES has 60,000 simulated RIRs: keep only the recently used ones in memory
        self.rir = functools.lru_cache(maxsize=512)(self.rirs.read)

    def clean_path(self, utt: str) -> Path:
        return output_path(self.out_clean / "wav", utt)

    def aug_path(self, key: str) -> Path:
        return output_path(self.out_aug / "wav", key)

    def render(self, utt: str) -> list[tuple[Copy, int]]:
        """Make the wav files of one utterance (skipping those already there); returns
        ``(copy, source offset in samples)`` for the clean crop (kind ``clean``) and each copy."""
        rng = utt_rng(self.seed, utt)
        u = float(rng.random())
        copies = plan_copies(rng, utt, self.rounds, self.music, self.noise, self.rir_keys)
        paths = [self.clean_path(utt)] + [self.aug_path(c.key) for c in copies]
        info = [(Copy(utt, "clean", utt), crop_start(self.src.length(utt), self.length, u))]
        need = not all(p.is_file() for p in paths)
        x = self.src.crop(utt, self.length, u)[0] if need else None
        if need and not paths[0].is_file():
            write_audio(paths[0], x, self.rate, self.subtype)
        for c, path in zip(copies, paths[1:]):
            if c.kind == "reverb":
                if need and not path.is_file():
                    write_audio(path, reverberate(x, self.rir(c.source)), self.rate, self.subtype)
                info.append((c, 0))
                continue
            n = self.musan.length(c.source)
            off = crop_start(n, self.length, c.u_offset)
            if need and not path.is_file():
                noise = self.musan.crop(c.source, self.length, c.u_offset)[0]
                write_audio(path, snr_mix(x, noise, c.snr), self.rate, self.subtype)
            info.append((c, off))
        return info

    def run(self, utts: list[str], desc: str = "augment") -> list[tuple[str, Copy, int]]:
        out = []
        for utt in tqdm(utts, desc=desc, unit="utt", leave=False):
            out += [(utt, c, off) for c, off in self.render(utt)]
        return out

    def write_dirs(self, rows: list[tuple[str, Copy, int]]) -> dict[str, int]:
        """Write both data dirs (after every wav exists)."""
        dur = self.length / self.rate
        clean = DataDir()
        clean.wav_scp = OrderedDict((u, os.path.abspath(self.clean_path(u))) for u in self.utts)
        clean.utt2spk = OrderedDict((u, self.clean.utt2spk[u]) for u in self.utts)
        clean.spk2utt = spk2utt_from_utt2spk(clean.utt2spk)
        clean.utt2dur = OrderedDict((u, dur) for u in self.utts)
        write_data_dir(clean, self.out_clean)
        wav, spk, u2c, env = dict(clean.wav_scp), dict(clean.utt2spk), {}, {}
        for u in self.utts:
            u2c[u], env[u] = u, "clean"
        info_lines = []
        n_aug = 0
        for utt, c, off in rows:
            snr_s = "-" if c.snr is None else f"{c.snr:.4f}"
            info_lines.append(f"{c.key} {c.kind} {c.source} {snr_s} {off}")
            if c.kind == "clean":
                continue
            n_aug += 1
            wav[c.key] = os.path.abspath(self.aug_path(c.key))
            spk[c.key] = self.clean.utt2spk[utt]
            u2c[c.key] = utt
            env[c.key] = f"{c.kind}:{c.source}"
        aug = DataDir()
        keys = c_sorted(wav)
        aug.wav_scp = OrderedDict((k, wav[k]) for k in keys)
        aug.utt2spk = OrderedDict((k, spk[k]) for k in keys)
        aug.spk2utt = spk2utt_from_utt2spk(aug.utt2spk)
        aug.utt2dur = OrderedDict((k, dur) for k in keys)
        aug.extra = {"utt2clean": OrderedDict((k, u2c[k]) for k in keys),
                     "utt2env": OrderedDict((k, env[k]) for k in keys)}
        write_data_dir(aug, self.out_aug)
        write_lines(self.out_aug / "augment.info", [
            "# <utt> <clean|music|noise|reverb> <source-key> <snr-dB or -> <crop-start-in-source>"]
            + sorted(info_lines, key=lambda s: s.encode()))
        return {"clean": len(self.utts), "augmented": n_aug, "pairs": len(keys)}


def augment_data_dir(clean_dir: PathLike, out_clean: PathLike, out_aug: PathLike, *,
                     musan: PathLike, rirs: PathLike, rounds: int = 1, crop_sec: float = 2.015,
                     seed: int = 0, sample_rate: int = 16000, job: Optional[int] = None,
                     nj: Optional[int] = None, subtype: str = "PCM_16") -> dict[str, int]:
    """Make the clean crops and their corrupted copies; see the module docstring.

    With ``job``/``nj`` only that part's wavs are made (no data dirs); without, whatever is missing
    is made and both data dirs are written.
    """
    aug = Augmenter(clean_dir, musan, rirs, out_clean, out_aug, rounds=rounds, crop_sec=crop_sec,
                    seed=seed, sample_rate=sample_rate, subtype=subtype)
    if job is not None:
        utts = job_keys(aug.utts, job, nj or 1)
        rows = aug.run(utts, desc=f"augment {job}/{nj}")
        n = sum(c.kind != "clean" for _, c, _ in rows)
        log.info("job %d/%d: %d clean utterances, %d copies", job, nj, len(utts), n)
        return {"clean": len(utts), "augmented": n}
    rows = aug.run(aug.utts)
    stats = aug.write_dirs(rows)
    log.info("%s -> %s (%d clean crops of %d samples), %s (%d copies, %d pairs in utt2clean)",
             clean_dir, out_clean, stats["clean"], aug.length, out_aug, stats["augmented"],
             stats["pairs"])
    return stats


__all__ = [
    "Augmenter",
    "augment_data_dir",
    "crop_samples",
    "crop_start",
    "reverberate",
    "snr_mix",
    "utt_rng",
    "wrap_crop",
]
