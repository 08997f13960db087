"""SEED's training pairs: K rounds per clean utterance of a seeded crop and its corrupted copies.

Round ``k`` of utterance ``u`` (``seed-method.md`` §1.5) is drawn by :class:`PairPlanner` from its
own generator seeded by ``(seed, u, k)`` (:func:`round_rng`), so round k is the same whatever K,
whatever the job split:

1. **crop**: ``crop_sec`` (2.015 s = 32,240 samples at 16 kHz) starting at
   ``int(v * (n - L))``; an utterance of ``n <= L`` samples is wrap-padded to ``L + 1`` and
   cropped from 0 (what SEED's loader does). ``fresh_crops`` (default): every round its own crop,
   key ``<u>-clean<k>``; otherwise every round uses round 1's crop, key ``<u>`` (one crop per
   utterance, seedkit's behaviour before render-on-extract);
2. three copies of that round's crop:

   - ``<u>-music<k>``: one MUSAN music recording, a random L-sample segment (wrap-padded when
     short), SNR ~ U[5, 15] dB;
   - ``<u>-noise<k>``: one MUSAN noise recording likewise, SNR ~ U[0, 15] dB;
   - ``<u>-reverb<k>``: one RIR, normalised to unit energy ``h / sqrt(sum(h^2))``, then
     ``scipy.signal.convolve(x, h, "full")[:L]`` (no delay compensation);

   mixing as SEED: ``clean_dB = 10 log10(mean(x^2) + 1e-4)``, likewise ``noise_dB``, noise scaled
   by ``sqrt(10^((clean_dB - noise_dB - snr) / 10))`` and added.

Each waveform is a :class:`RenderEntry` (a line of ``render.spec``: key, clean utterance, crop
start and length, kind, source key, source offset, SNR); :class:`Renderer` turns an entry into
float32 samples with the math above, the one code path for wav files, extraction and on-the-fly
training.

MUSAN is read from a data dir of the raw MUSAN files whose ``utt2spk`` value is the category
(``music``/``noise``/``speech``), as ``seedkit-prepare-corpus musan`` writes it: segments are cut
at random offsets here, so no pre-split ("musan_split") copy is needed.

Outputs of :func:`augment_data_dir`:

- ``<out-clean>``: the clean crops; ``<out-aug>``: SEED's multi-pair set, every clean crop itself
  (same key as in ``<out-clean>``) and its copies; ``utt2clean`` maps each to its round's clean
  key, the identity lines included, so it is the ``--pairs`` file of ``seedkit-train-seed``;
  ``utt2env`` names what was applied (``clean``, ``music:<musan-key>``, ``noise:<musan-key>``,
  ``reverb:<rir-key>``). Both dirs hold ``render.spec`` (their entries, C-sorted) and
  ``render.sources`` (the absolute clean/MUSAN/RIR data dirs and the rate).
- spec mode (default, ``materialise=False``): no audio; ``wav.scp`` lines are
  ``<key> seedkit-render-wav <dir>/render.spec <key> |``, which seedkit's audio reader renders in
  process (:func:`render_key`) and any other tool runs as a pipe.
- ``materialise=True``: every waveform is a wav (``wav/<xx>/<key>.wav``) named in ``wav.scp``, and
  ``augment.info`` lists every copy with its source, offset and SNR. 16-bit output is scaled down
  (whole crop, SNR unchanged) only if it would clip; ``subtype="FLOAT"`` keeps the rendered float32
  samples exactly.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import shlex
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
from scipy import signal
from tqdm import tqdm

from seedkit.audio import read_audio
from seedkit.augment_policy import RELEASE, AugmentPolicy, PairType
from seedkit.data.datadir import (
    DataDir,
    is_pipe,
    spk2utt_from_utt2spk,
    validate_data_dir,
    write_data_dir,
)
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_output, c_sorted, describe_binary, iter_table, write_lines
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
        raise SeedkitError("RIR is all zeros; replace it or remove it from the RIR data dir")
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
        self._checked: set[str] = set()

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
            x = np.asarray(x[src.offset + start: src.offset + start + frames], np.float64)
            if not np.isfinite(x).all():
                self._not_finite(key)
            return x
        self._info(src)
        try:
            x, _ = sf.read(src.entry, start=src.offset + start, frames=frames, dtype="float64",
                           always_2d=True)
        except Exception as err:
            raise SeedkitError(f"{key!r}: cannot read {src.entry} ({err}); the file is corrupt",
                               src.where, src.line) from None
        x = x[:, 0]
        if not np.isfinite(x).all():
            self._not_finite(key)
        return x

    def _not_finite(self, key: str) -> None:
        src = self.sources[key]
        raise SeedkitError(f"{self.what} {key!r}: {src.entry} holds NaN or infinite samples; "
                           "replace the file or remove this line", src.where, src.line)

    def check_source(self, key: str, block: int = 1 << 20) -> None:
        """Read source ``key`` whole, once per table, and refuse it (naming its ``wav.scp`` line)
        unless it is audio at this table's rate, one channel, with samples, all finite and not
        all zeros. Reads no random numbers."""
        if key in self._checked:
            return
        src = self.sources[key]
        n = self.length(key)  # readable, rate, channels, at least one sample
        peak = 0.0
        for start in range(0, n, block):
            x = self.read(key, start, block)  # refuses NaN / inf
            peak = max(peak, float(np.max(np.abs(x))) if len(x) else 0.0)
        if not peak > 0:
            raise SeedkitError(f"{self.what} {key!r}: {src.entry} is all zeros (silent); replace "
                               "the file or remove this line (then rerun this stage)",
                               src.where, src.line)
        self._checked.add(key)


# ----------------------------------------------------------------------------- the plan

SPEC_NAME = "render.spec"
SOURCES_NAME = "render.sources"
RENDER_COMMAND = "seedkit-render-wav"
#: kinds with several sources (comma-joined keys and starts in the spec line): babble (speech
#: recordings summed) and reverb followed by an additive recording (policy types, not the release)
MULTI_KINDS = ("babble", "reverb+music", "reverb+noise", "reverb+speech")
#: kinds mixed at an SNR
SNR_KINDS = ("music", "noise", "speech") + MULTI_KINDS
ENTRY_KINDS = ("clean",) + KINDS + ("speech",) + MULTI_KINDS


@dataclass(frozen=True)
class RenderEntry:
    """One training-pair waveform, as a line of ``render.spec``.

    ``start``/``length``: the crop of clean utterance ``clean`` (samples; an utterance of at most
    ``length`` samples is wrap-padded and cropped from 0); ``source``: the MUSAN recording
    (``music``/``noise``) or RIR (``reverb``) key, None for ``clean``; ``source_start``: the first
    sample of the MUSAN segment (0 otherwise); ``snr``: dB for ``music``/``noise``, else None.

    Kinds of policy types (:mod:`seedkit.augment_policy`): ``speech`` (additive, like music);
    ``babble`` (``sources``: the speech recordings summed, ``starts`` their segment starts);
    ``reverb+<music|noise|speech>`` (``sources``: the RIR then the recording, ``starts``: 0 and
    the segment start). For these ``source`` is ``",".join(sources)`` and the spec line's
    source-start field is ``",".join(starts)``.
    """

    key: str
    clean: str
    start: int
    length: int
    kind: str
    source: Optional[str] = None
    source_start: int = 0
    snr: Optional[float] = None
    sources: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()

    def to_line(self) -> str:
        """``<key> <clean> <start> <length> <kind> <source|-> <source-start> <snr|->``; the SNR
        is written with ``repr`` so it parses back to the same float."""
        snr = "-" if self.snr is None else repr(float(self.snr))
        sstart = ",".join(map(str, self.starts)) if self.kind in MULTI_KINDS else \
            str(self.source_start)
        return (f"{self.key} {self.clean} {self.start} {self.length} {self.kind} "
                f"{self.source or '-'} {sstart} {snr}")

    @classmethod
    def parse(cls, line: str, where: Optional[PathLike] = None, lineno: int = 0
              ) -> "RenderEntry":
        """Parse one ``render.spec`` line; a bad line raises naming ``where:lineno``."""
        fields = line.split()
        fix = "; regenerate it with seedkit-augment-data-dir"
        if len(fields) != 8:
            raise SeedkitError(
                f"expected 8 fields (<key> <clean> <start> <length> <kind> <source|-> "
                f"<source-start> <snr|->), got {len(fields)}: {line.strip()[:80]!r}{fix}",
                where, lineno)
        key, clean, start_s, length_s, kind, source, sstart_s, snr_s = fields

        def count(name: str, text: str, minimum: int) -> int:
            if not text.isdigit() or int(text) < minimum:
                raise SeedkitError(f"{key!r}: {name} must be an integer >= {minimum}, got "
                                   f"{text!r}{fix}", where, lineno)
            return int(text)

        start, length = count("crop start", start_s, 0), count("crop length", length_s, 1)
        if kind in MULTI_KINDS:
            sources = tuple(source.split(","))
            starts = tuple(count("source start", s, 0) for s in sstart_s.split(","))
            n = 2 if kind != "babble" else len(sources)
            if source == "-" or "" in sources or len(sources) != n or len(starts) != n \
                    or (kind != "babble" and starts[0] != 0):
                raise SeedkitError(f"{key!r}: a {kind} entry needs "
                                   + ("<rir>,<recording> sources and starts 0,<start>"
                                      if kind != "babble" else
                                      "one start per comma-separated source")
                                   + f", got {source!r} {sstart_s!r}{fix}", where, lineno)
            snr = math.nan
            if snr_s != "-":
                try:
                    snr = float(snr_s)
                except ValueError:
                    pass
            if not math.isfinite(snr):
                raise SeedkitError(f"{key!r}: SNR must be a finite number of dB, got "
                                   f"{snr_s!r}{fix}", where, lineno)
            return cls(key, clean, start, length, kind, source, 0, snr, sources, starts)
        source_start = count("source start", sstart_s, 0)
        if kind not in ENTRY_KINDS:
            raise SeedkitError(f"{key!r}: kind must be one of {', '.join(ENTRY_KINDS)}, got "
                               f"{kind!r}{fix}", where, lineno)
        snr: Optional[float] = None
        if kind in ("music", "noise", "speech"):
            try:
                snr = float(snr_s)
            except ValueError:
                snr = math.nan
            if not math.isfinite(snr):
                raise SeedkitError(f"{key!r}: SNR must be a finite number of dB, got "
                                   f"{snr_s!r}{fix}", where, lineno)
        elif snr_s != "-":
            raise SeedkitError(f"{key!r}: a {kind} entry has no SNR ('-'), got {snr_s!r}{fix}",
                               where, lineno)
        if kind == "clean":
            if source != "-" or source_start != 0:
                raise SeedkitError(f"{key!r}: a clean entry has source '-' and source start 0"
                                   f"{fix}", where, lineno)
            return cls(key, clean, start, length, kind)
        if source == "-":
            raise SeedkitError(f"{key!r}: a {kind} entry needs a source key{fix}", where, lineno)
        if kind == "reverb" and source_start != 0:
            raise SeedkitError(f"{key!r}: a reverb entry has source start 0{fix}", where, lineno)
        return cls(key, clean, start, length, kind, source, source_start, snr)


def round_rng(seed: int, utt: str, k: int) -> np.random.Generator:
    """The generator of round ``k`` of utterance ``utt``: the same in any job, for any K."""
    digest = hashlib.sha256(f"seedkit-augment\0{seed}\0{utt}\0{k}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


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


class Inputs:
    """The clean, MUSAN and RIR data dirs at one rate (audio tables, read lazily)."""

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 sample_rate: int = 16000):
        self.dirs = tuple(Path(d).resolve() for d in (clean_dir, musan_dir, rirs_dir))
        self.rate = sample_rate
        self.clean = _load(clean_dir, "clean")
        musan = _load(musan_dir, "MUSAN")
        rirs = _load(rirs_dir, "RIR")
        self.music, self.noise = _category_keys(musan, Path(musan_dir))
        #: MUSAN category -> its recording keys, C-sorted (what policy types draw from)
        self.categories: dict[str, list[str]] = {}
        for utt in c_sorted(musan.utt2spk):
            self.categories.setdefault(musan.utt2spk[utt], []).append(utt)
        self.categories_of = musan.utt2spk.__getitem__
        self.rir_keys = c_sorted(rirs.utt2spk)
        self.src = AudioTable(self.clean, sample_rate, "clean")
        self.musan = AudioTable(musan, sample_rate, "MUSAN")
        self.rirs = AudioTable(rirs, sample_rate, "RIR")


class Renderer:
    """Renders :class:`RenderEntry` waveforms (float32) with the math of the materialised wavs.

    Safe to call from several threads: every read opens its own file handle; the caches
    (recent clean crops, RIRs, decoded pipes) are ``functools.lru_cache`` (thread-safe; at worst
    a value is computed twice).
    """

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 sample_rate: int = 16000, *, inputs: Optional[Inputs] = None):
        self.inputs = inputs or Inputs(clean_dir, musan_dir, rirs_dir, sample_rate)
        self.rate = self.inputs.rate
        # RIRS_NOISES has 60,000 simulated RIRs: keep only the recently used ones in memory
        self._rir = functools.lru_cache(maxsize=512)(self._read_rir)
        self._clean = functools.lru_cache(maxsize=64)(self._clean_crop)

    def _read_rir(self, key: str) -> np.ndarray:
        """RIR ``key`` whole, checked as at planning (its file and ``wav.scp`` line named)."""
        self.inputs.rirs.check_source(key)
        return self.inputs.rirs.read(key)

    @staticmethod
    def _crop(table: AudioTable, key: str, start: int, length: int) -> np.ndarray:
        if table.length(key) <= length:
            return wrap_crop(table.read(key), length, 0)
        return table.read(key, start, length)

    def _clean_crop(self, utt: str, start: int, length: int) -> np.ndarray:
        x = self._crop(self.inputs.src, utt, start, length)
        x.flags.writeable = False
        return x

    def check(self, entry: RenderEntry, where: Optional[PathLike] = None, line: int = 0) -> None:
        """Raise (naming ``where:line``) if ``entry`` names an unknown utterance, recording or
        RIR, or a crop beyond its utterance or recording."""
        inp = self.inputs

        def inside(table: AudioTable, key: str, start: int, what: str) -> None:
            n = table.length(key)
            if start + entry.length > n and not (n <= entry.length and start == 0):
                raise SeedkitError(
                    f"{entry.key!r}: crop [{start}, {start + entry.length}) lies beyond {what} "
                    f"{key!r} ({n} samples); regenerate the spec with seedkit-augment-data-dir",
                    where, line)

        if entry.clean not in inp.src.sources:
            raise SeedkitError(f"{entry.key!r}: utterance {entry.clean!r} is not in the clean data "
                               f"dir {inp.dirs[0]}; regenerate the spec or fix "
                               f"{SOURCES_NAME}", where, line)
        inside(inp.src, entry.clean, entry.start, "utterance")
        if entry.kind == "reverb" and entry.source not in inp.rirs.sources:
            raise SeedkitError(f"{entry.key!r}: RIR {entry.source!r} is not in the RIR data dir "
                               f"{inp.dirs[2]}; regenerate the spec or fix {SOURCES_NAME}",
                               where, line)
        if entry.kind in ("music", "noise", "speech"):
            if entry.source not in inp.musan.sources:
                raise SeedkitError(f"{entry.key!r}: recording {entry.source!r} is not in the "
                                   f"MUSAN data dir {inp.dirs[1]}; regenerate the spec or fix "
                                   f"{SOURCES_NAME}", where, line)
            inside(inp.musan, entry.source, entry.source_start, "recording")
        if entry.kind in MULTI_KINDS:
            parts = list(zip(entry.sources, entry.starts))
            if entry.kind != "babble":
                rir = parts.pop(0)[0]
                if rir not in inp.rirs.sources:
                    raise SeedkitError(f"{entry.key!r}: RIR {rir!r} is not in the RIR data dir "
                                       f"{inp.dirs[2]}; regenerate the spec or fix "
                                       f"{SOURCES_NAME}", where, line)
            for src, off in parts:
                if src not in inp.musan.sources:
                    raise SeedkitError(f"{entry.key!r}: recording {src!r} is not in the MUSAN "
                                       f"data dir {inp.dirs[1]}; regenerate the spec or fix "
                                       f"{SOURCES_NAME}", where, line)
                inside(inp.musan, src, off, "recording")

    def render(self, entry: RenderEntry) -> np.ndarray:
        """The waveform of ``entry``: float32 ``[length]`` (no 16-bit scaling)."""
        x = self._clean(entry.clean, entry.start, entry.length)
        if entry.kind == "clean":
            y = x
        elif entry.kind == "reverb":
            y = reverberate(x, self._rir(entry.source))
        elif entry.kind == "babble":
            # the talkers summed, then mixed as one noise (Kaldi's babble)
            babble = sum(self._crop(self.inputs.musan, src, off, entry.length)
                         for src, off in zip(entry.sources, entry.starts))
            y = snr_mix(x, babble, entry.snr)
        elif entry.kind in MULTI_KINDS:
            # reverb first, then the recording mixed into the reverberant speech
            (rir, _), (src, off) = zip(entry.sources, entry.starts)
            noise = self._crop(self.inputs.musan, src, off, entry.length)
            y = snr_mix(reverberate(x, self._rir(rir)), noise, entry.snr)
        else:
            noise = self._crop(self.inputs.musan, entry.source, entry.source_start, entry.length)
            y = snr_mix(x, noise, entry.snr)
        return np.asarray(y, dtype=np.float32)


class PairPlanner:
    """Draws the training pairs: :meth:`plan` gives round ``k`` of an utterance."""

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 crop_sec: float = 2.015, seed: int = 0, sample_rate: int = 16000,
                 fresh_crops: bool = True, *, inputs: Optional[Inputs] = None,
                 policy: AugmentPolicy = RELEASE):
        self.inputs = inputs or Inputs(clean_dir, musan_dir, rirs_dir, sample_rate)
        self.seed, self.fresh_crops = int(seed), bool(fresh_crops)
        self.length = crop_samples(crop_sec, self.inputs.rate)
        #: the pair types of every round, in draw order (:mod:`seedkit.augment_policy`)
        self.policy = policy
        self._pools = {t.name: self._pool(t) for t in policy.types}
        #: the clean utterance keys, C-sorted
        self.utterances: list[str] = c_sorted(self.inputs.clean.utt2spk)
        #: speaker of each clean utterance
        self.utt2spk: dict[str, str] = dict(self.inputs.clean.utt2spk)

    def renderer(self) -> Renderer:
        """A :class:`Renderer` sharing this planner's audio tables."""
        return Renderer("", "", "", inputs=self.inputs)

    def _pool(self, t: PairType) -> list[str]:
        """The MUSAN keys type ``t`` draws from (its categories' keys, pooled in listed order);
        a used category with no recordings, or too few speech recordings for a babble, is an
        error naming the policy file."""
        cats = self.inputs.categories
        keys: list[str] = []
        for cat in t.musan_sources:
            if not cats.get(cat):
                raise SeedkitError(f"pair type {t.name!r} draws from MUSAN {cat} but the MUSAN "
                                   f"data dir {self.inputs.dirs[1]} has no {cat} recordings "
                                   f"(utt2spk value '{cat}'); prepare them, or drop {cat} from "
                                   "the type's sources", self.policy.path)
            keys += cats[cat]
        if t.speakers is not None and len(keys) < t.speakers[1]:
            raise SeedkitError(f"pair type {t.name!r} sums up to {t.speakers[1]} speech "
                               f"recordings but the MUSAN data dir has {len(keys)}; lower "
                               "'speakers'", self.policy.path)
        return keys

    def _copy(self, t: PairType, rng: np.random.Generator, utt: str, k: int, start: int
              ) -> RenderEntry:
        """Type ``t``'s copy of the crop at ``start``, drawn from ``rng`` in a fixed order:
        additive: recording, offset, SNR; reverb: RIR; reverb+additive: RIR, then as additive;
        babble: talker count, talkers, their offsets, SNR."""
        inp, L = self.inputs, self.length
        key, keys = f"{utt}-{t.name}{k}", self._pools[t.name]
        rir = None
        if t.kind in ("reverb", "reverb+additive"):
            rir = inp.rir_keys[int(rng.integers(len(inp.rir_keys)))]
            if t.kind == "reverb":
                return RenderEntry(key, utt, start, L, "reverb", rir)
        if t.kind == "babble":
            assert t.speakers is not None and t.snr is not None
            n = int(rng.integers(t.speakers[0], t.speakers[1] + 1))
            picks = [keys[i] for i in rng.choice(len(keys), size=n, replace=False).tolist()]
            offs = tuple(crop_start(inp.musan.length(s), L, float(rng.random())) for s in picks)
            snr = float(rng.uniform(*t.snr))
            return RenderEntry(key, utt, start, L, "babble", ",".join(picks), 0, snr,
                               tuple(picks), offs)
        assert t.snr is not None
        src = keys[int(rng.integers(len(keys)))]
        off = crop_start(inp.musan.length(src), L, float(rng.random()))
        snr = float(rng.uniform(*t.snr))
        cat = inp.categories_of(src)
        if rir is None:
            return RenderEntry(key, utt, start, L, cat, src, off, snr)
        return RenderEntry(key, utt, start, L, f"reverb+{cat}", f"{rir},{src}", 0, snr,
                           (rir, src), (0, off))

    def clean_key(self, utt: str, k: int) -> str:
        """The key of round ``k``'s clean crop: ``<utt>-clean<k>``, or ``<utt>`` (one crop)."""
        return f"{utt}-clean{k}" if self.fresh_crops else utt

    def plan(self, utt: str, k: int) -> list[RenderEntry]:
        """Round ``k`` (>= 1) of ``utt``: its clean crop, then one copy of it per type of the
        policy, drawn from :func:`round_rng` ``(seed, utt, k)`` in a fixed order (crop position,
        then each type's draws in policy order; the release's: music recording, offset, SNR,
        noise recording, offset, SNR, RIR)."""
        if k < 1:
            raise SeedkitError(f"round must be >= 1, got {k}")
        if utt not in self.utt2spk:
            raise SeedkitError(f"utterance {utt!r} is not in the clean data dir",
                               self.inputs.dirs[0] / "utt2spk")
        inp, L = self.inputs, self.length
        rng = round_rng(self.seed, utt, k)
        u = float(rng.random())
        if not self.fresh_crops and k != 1:
            u = float(round_rng(self.seed, utt, 1).random())
        start = crop_start(inp.src.length(utt), L, u)
        out = [RenderEntry(self.clean_key(utt, k), utt, start, L, "clean")]
        out += [self._copy(t, rng, utt, k, start) for t in self.policy.types]
        return out


# ----------------------------------------------------------------------------- the spec files

@dataclass
class RenderSpec:
    """A parsed ``render.spec`` and its ``render.sources``."""

    path: Path
    entries: "OrderedDict[str, RenderEntry]"
    lines: dict[str, int]
    sources: dict[str, str]
    complete: bool = True  # False: only some keys' lines were parsed (read_spec(keys=...))

    @property
    def rate(self) -> int:
        return int(self.sources["sample_rate"])

    def renderer(self) -> Renderer:
        """The (process-wide cached) renderer of this spec's sources."""
        s = self.sources
        return _cached_renderer(s["clean"], s["musan"], s["rirs"], self.rate)

    def entry(self, key: str, where: Optional[PathLike] = None, line: int = 0) -> RenderEntry:
        """The entry of ``key``; a missing key raises naming the spec file (and ``where``)."""
        if key not in self.entries:
            ref = f" (named at {where}:{line})" if where is not None else ""
            raise SeedkitError(f"no line for key {key!r}{ref}; the spec does not match the data "
                               "dir: regenerate both with seedkit-augment-data-dir", self.path)
        return self.entries[key]

    def check(self, keys: Optional[list[str]] = None) -> None:
        """Check every entry of ``keys`` (default: all) against the source data dirs."""
        renderer = self.renderer()
        for key in self.entries if keys is None else keys:
            renderer.check(self.entry(key), self.path, self.lines[key])


def read_sources(path: PathLike) -> dict[str, str]:
    """Read ``render.sources``: ``clean``/``musan``/``rirs`` (absolute dirs), ``sample_rate``."""
    path = Path(path)
    out: dict[str, str] = {}
    hint = "it is written beside render.spec by seedkit-augment-data-dir; regenerate the dir"
    for n, fields in iter_table(path, 2, 2, what="render sources table", hint=hint):
        name, value = fields
        if name not in ("clean", "musan", "rirs", "sample_rate") or name in out:
            raise SeedkitError(f"unexpected or repeated name {name!r}; expected one line each of "
                               "clean, musan, rirs, sample_rate", path, n)
        if name == "sample_rate" and not value.isdigit():
            raise SeedkitError(f"sample_rate must be an integer, got {value!r}", path, n)
        out[name] = value
    missing = [k for k in ("clean", "musan", "rirs", "sample_rate") if k not in out]
    if missing:
        raise SeedkitError(f"no {missing[0]} line; {hint}", path)
    return out


def read_spec(path: PathLike, keys: Optional[Iterable[str]] = None) -> RenderSpec:
    """Parse ``render.spec`` (and ``render.sources`` beside it); every problem is one
    :class:`SeedkitError` naming the file and line.

    With ``keys``, only the lines of those keys are parsed and kept (an extraction job of a split
    dir needs its own share of a spec that may hold millions of lines); the file is still read
    through, so an empty, binary, non-UTF-8 or truncated file is an error either way.
    """
    path = Path(path)
    hint = "run seedkit-augment-data-dir to write it"
    if path.is_dir():
        raise SeedkitError("is a directory; expected a render spec", path)
    if not path.is_file():
        raise SeedkitError(f"render spec not found; {hint}", path)
    wanted = None if keys is None else set(keys)
    entries: OrderedDict[str, RenderEntry] = OrderedDict()
    lines: dict[str, int] = {}
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        looks = describe_binary(f.read(512))
        if looks is not None:
            raise SeedkitError(f"expected a render spec (UTF-8 text) but this looks like {looks}; "
                               f"{hint}", path)
        f.seek(0)
        for n, raw in enumerate(f, start=1):
            last = raw
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise SeedkitError(f"not UTF-8 text ({err.reason}); regenerate the spec with "
                                   "seedkit-augment-data-dir", path, n) from None
            if not line.strip():
                raise SeedkitError("empty line; remove it", path, n)
            if wanted is not None and line.split(None, 1)[0] not in wanted:
                continue
            e = RenderEntry.parse(line, path, n)
            if e.key in lines:
                raise SeedkitError(f"key {e.key!r} repeats line {lines[e.key]}", path, n)
            entries[e.key], lines[e.key] = e, n
    if n == 0:
        raise SeedkitError(f"empty render spec; {hint}", path)
    if not last.endswith(b"\n"):
        raise SeedkitError("the last line has no newline: the file is truncated; regenerate it "
                           "with seedkit-augment-data-dir", path, n)
    spec = RenderSpec(path, entries, lines, read_sources(path.parent / SOURCES_NAME))
    spec.complete = wanted is None
    return spec


_LOCK = threading.Lock()
_SPECS: "OrderedDict[str, tuple[tuple[int, int], RenderSpec]]" = OrderedDict()


@functools.lru_cache(maxsize=4)
def _cached_renderer_unlocked(clean: str, musan: str, rirs: str, rate: int) -> Renderer:
    return Renderer(clean, musan, rirs, rate)


def _cached_renderer(clean: str, musan: str, rirs: str, rate: int) -> Renderer:
    with _LOCK:
        return _cached_renderer_unlocked(clean, musan, rirs, rate)


def drop_caches() -> None:
    """Forget the parsed specs and renderers of this process."""
    with _LOCK:
        _SPECS.clear()
        _cached_renderer_unlocked.cache_clear()


def load_spec(path: PathLike, keys: Optional[Iterable[str]] = None) -> RenderSpec:
    """:func:`read_spec`, cached per process while the file is unchanged: a cached spec is
    reused when it holds ``keys`` (default: every key), else re-read for them and the keys it
    held."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except OSError:
        return read_spec(path)  # raises the missing-file error
    stamp = (st.st_mtime_ns, st.st_size)
    want = None if keys is None else set(keys)
    with _LOCK:
        hit = _SPECS.get(path)
        if hit is not None and hit[0] == stamp:
            spec = hit[1]
            if spec.complete or (want is not None and want <= spec.entries.keys()):
                return spec
            if want is not None:
                want |= set(spec.entries)
        spec = read_spec(path, want)
        _SPECS[path] = (stamp, spec)
        while len(_SPECS) > 16:
            _SPECS.popitem(last=False)
        return spec


def render_pipe(spec: PathLike, key: str) -> str:
    """The ``wav.scp`` value that renders ``key`` of ``spec``: ``seedkit-render-wav SPEC KEY |``."""
    return f"{RENDER_COMMAND} {shlex.quote(os.path.abspath(spec))} {shlex.quote(key)} |"


def parse_render_pipe(entry: str) -> Optional[tuple[str, str]]:
    """``(spec, key)`` when ``entry`` is exactly a :func:`render_pipe` value, else None."""
    entry = entry.strip()
    if not entry.endswith("|") or not entry.startswith(RENDER_COMMAND + " "):
        return None
    try:
        words = shlex.split(entry[:-1])
    except ValueError:
        return None
    if len(words) != 3 or words[0] != RENDER_COMMAND:
        return None
    return words[1], words[2]


def render_key(spec: PathLike, key: str, where: Optional[PathLike] = None, line: int = 0
               ) -> tuple[np.ndarray, int]:
    """``(float32 samples, rate)`` of ``key`` of ``spec`` (cached spec and renderer)."""
    s = load_spec(spec, (key,))
    e = s.entry(key, where, line)
    renderer = s.renderer()
    renderer.check(e, s.path, s.lines[key])
    return renderer.render(e), s.rate


def write_rendered_wav(spec: PathLike, key: str, out=None) -> None:
    """``seedkit-render-wav``: write ``key`` of ``spec`` as a float32 wav to ``out`` (stdout)."""
    import io
    import sys

    x, rate = render_key(spec, key)
    buf = io.BytesIO()
    sf.write(buf, x, rate, subtype="FLOAT", format="WAV")
    stream = out if out is not None else sys.stdout.buffer
    stream.write(buf.getvalue())
    stream.flush()


def check_render_dir(dd: DataDir, where: PathLike) -> None:
    """For a data dir whose ``wav.scp`` holds render pipes: parse each spec and check every
    entry the dir uses (and its ``utt2clean`` values) against the sources; raises before anything
    is rendered or written."""
    where = Path(where)
    used: dict[str, list[tuple[str, int]]] = {}
    for n, value in enumerate(dd.wav_scp.values(), start=1):
        pipe = parse_render_pipe(value)
        if pipe is not None:
            used.setdefault(pipe[0], []).append((pipe[1], n))
    u2c = dd.extra.get("utt2clean")
    for spec_path, keys in used.items():
        want = {k for k, _ in keys}
        if u2c is not None and len(used) == 1:
            want |= set(u2c.values())
        spec = load_spec(spec_path, want)
        for key, n in keys:
            spec.entry(key, where / "wav.scp", n)
        if u2c is not None and len(used) == 1:
            for n, (key, clean) in enumerate(u2c.items(), start=1):
                spec.entry(key, where / "utt2clean", n)
                spec.entry(clean, where / "utt2clean", n)
        spec.check([k for k, _ in keys])


def check_render_data_dir(path: PathLike) -> int:
    """``seedkit-render-wav --check-dir``: validate a data dir and :func:`check_render_dir` it;
    returns the number of render pipes checked."""
    dd = validate_data_dir(path, check_files=False, check_spk_sort=False)
    check_render_dir(dd, path)
    n = sum(parse_render_pipe(v) is not None for v in dd.wav_scp.values())
    log.info("%s: %d render pipes checked against their spec and sources", path, n)
    return n


# ----------------------------------------------------------------------------- writing

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


class Augmenter:
    """Plans the pairs of the clean data dir; :meth:`materialise` writes their wavs,
    :meth:`write_dirs` the two data dirs (wav files or render pipes)."""

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 out_clean: PathLike, out_aug: PathLike, rounds: int = 1, crop_sec: float = 2.015,
                 seed: int = 0, sample_rate: int = 16000, subtype: str = "PCM_16",
                 materialise: bool = False, fresh_crops: bool = True,
                 policy: AugmentPolicy = RELEASE):
        if rounds < 1:
            raise SeedkitError(f"--rounds must be >= 1, got {rounds}")
        if subtype not in ("PCM_16", "FLOAT"):
            raise SeedkitError(f"wav subtype must be PCM_16 or FLOAT, got {subtype!r}")
        self.out_clean, self.out_aug = Path(out_clean), Path(out_aug)
        if self.out_clean.resolve() == self.out_aug.resolve():
            raise SeedkitError("the clean-crop and augmented output dirs must differ",
                               self.out_aug)
        self.planner = PairPlanner(clean_dir, musan_dir, rirs_dir, crop_sec, seed, sample_rate,
                                   fresh_crops, policy=policy)
        self.renderer = self.planner.renderer()
        self.rounds, self.rate, self.subtype = rounds, sample_rate, subtype
        self.materialise_wavs = materialise
        self.utts = self.planner.utterances

    def clean_path(self, key: str) -> Path:
        return output_path(self.out_clean / "wav", key)

    def aug_path(self, key: str) -> Path:
        return output_path(self.out_aug / "wav", key)

    def path(self, e: RenderEntry) -> Path:
        return self.clean_path(e.key) if e.kind == "clean" else self.aug_path(e.key)

    def plan(self, utts: list[str], desc: str = "plan") -> list[RenderEntry]:
        """Rounds 1..K of ``utts`` (one clean entry per distinct clean key)."""
        out, seen = [], set()
        for utt in tqdm(utts, desc=desc, unit="utt", leave=False):
            for k in range(1, self.rounds + 1):
                for e in self.planner.plan(utt, k):
                    if e.key not in seen:
                        seen.add(e.key)
                        out.append(e)
        return out

    def materialise(self, entries: list[RenderEntry], desc: str = "augment") -> None:
        """Write the wav of every entry not already there."""
        for e in tqdm(entries, desc=desc, unit="wav", leave=False):
            path = self.path(e)
            if not path.is_file():
                write_audio(path, self.renderer.render(e), self.rate, self.subtype)

    def write_dirs(self, entries: list[RenderEntry]) -> dict[str, int]:
        """Write both data dirs (after every wav exists when materialising)."""
        dur = self.planner.length / self.rate
        spk = self.planner.utt2spk
        by_key = {e.key: e for e in entries}
        clean_of: dict[str, str] = {}
        for e in entries:
            if e.kind == "clean":
                continue
            k = int(e.key[len(e.clean) + 1:].lstrip("abcdefghijklmnopqrstuvwxyz_"))
            clean_of[e.key] = self.planner.clean_key(e.clean, k)
        sources = [f"clean {self.planner.inputs.dirs[0]}", f"musan {self.planner.inputs.dirs[1]}",
                   f"rirs {self.planner.inputs.dirs[2]}", f"sample_rate {self.rate}"]

        def one(out: Path, keys: list[str]) -> None:
            dd = DataDir()
            if self.materialise_wavs:
                dd.wav_scp = OrderedDict((k, os.path.abspath(self.path(by_key[k]))) for k in keys)
            else:
                dd.wav_scp = OrderedDict((k, render_pipe(out / SPEC_NAME, k)) for k in keys)
            dd.utt2spk = OrderedDict((k, spk[by_key[k].clean]) for k in keys)
            dd.spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
            dd.utt2dur = OrderedDict((k, dur) for k in keys)
            if out == self.out_aug:
                dd.extra = {
                    "utt2clean": OrderedDict((k, clean_of.get(k, k)) for k in keys),
                    "utt2env": OrderedDict(
                        (k, "clean" if by_key[k].kind == "clean"
                         else f"{by_key[k].kind}:{by_key[k].source}") for k in keys)}
            out.mkdir(parents=True, exist_ok=True)
            write_lines(out / SOURCES_NAME, sources)
            write_lines(out / SPEC_NAME, (by_key[k].to_line() for k in keys))
            write_data_dir(dd, out)

        clean_keys = c_sorted(e.key for e in entries if e.kind == "clean")
        keys = c_sorted(by_key)
        one(self.out_clean, clean_keys)
        one(self.out_aug, keys)
        info = self.out_aug / "augment.info"
        if self.materialise_wavs:
            lines = []
            for k in keys:
                e = by_key[k]
                snr_s = "-" if e.snr is None else f"{e.snr:.4f}"
                src, off = (e.clean, e.start) if e.kind == "clean" else (e.source, e.source_start)
                lines.append(f"{k} {e.kind} {src} {snr_s} {off}")
            write_lines(info, ["# <utt> <clean|music|noise|reverb> <source-key> <snr-dB or -> "
                               "<crop-start-in-source>"] + lines)
        elif info.exists():
            info.unlink()
        return {"clean": len(clean_keys), "augmented": len(keys) - len(clean_keys),
                "pairs": len(keys)}


def check_sources(inputs: Inputs, entries: Iterable[RenderEntry]) -> int:
    """Read every RIR and MUSAN recording that ``entries`` use, once
    (:meth:`AudioTable.check_source`: audio at the rate, mono, samples, finite, not all zeros);
    a bad one raises naming its ``wav.scp`` line. Returns the number of sources checked."""
    rirs: set[str] = set()
    musan: set[str] = set()
    for e in entries:
        if e.kind == "reverb":
            rirs.add(e.source)
        elif e.kind in MULTI_KINDS:
            parts = list(e.sources)
            if e.kind != "babble":
                rirs.add(parts.pop(0))
            musan.update(parts)
        elif e.kind != "clean":
            musan.add(e.source)
    for key in c_sorted(rirs):
        inputs.rirs.check_source(key)
    for key in c_sorted(musan):
        inputs.musan.check_source(key)
    return len(rirs) + len(musan)


def augment_data_dir(clean_dir: PathLike, out_clean: PathLike, out_aug: PathLike, *,
                     musan: PathLike, rirs: PathLike, rounds: int = 1, crop_sec: float = 2.015,
                     seed: int = 0, sample_rate: int = 16000, job: Optional[int] = None,
                     nj: Optional[int] = None, subtype: str = "PCM_16",
                     materialise: bool = False, fresh_crops: bool = True,
                     policy: AugmentPolicy = RELEASE) -> dict[str, int]:
    """Plan the clean crops and their corrupted copies; see the module docstring.

    ``materialise``: write every waveform as a wav (else the dirs hold render pipes and
    ``render.spec``). With ``job``/``nj`` only that part's wavs are made (no data dirs); without,
    whatever is missing is made and both data dirs are written. ``policy``: the pair types of
    every round (:mod:`seedkit.augment_policy`; default the release's music, noise, reverb).
    """
    aug = Augmenter(clean_dir, musan, rirs, out_clean, out_aug, rounds=rounds, crop_sec=crop_sec,
                    seed=seed, sample_rate=sample_rate, subtype=subtype,
                    materialise=materialise, fresh_crops=fresh_crops, policy=policy)
    if job is not None:
        utts = job_keys(aug.utts, job, nj or 1)
        entries = aug.plan(utts, desc=f"plan {job}/{nj}")
        if materialise:
            check_sources(aug.planner.inputs, entries)
            aug.materialise(entries, desc=f"augment {job}/{nj}")
        n = sum(e.kind != "clean" for e in entries)
        log.info("job %d/%d: %d clean utterances, %d copies%s", job, nj, len(utts), n,
                 "" if materialise else " planned (spec mode: no audio written)")
        return {"clean": len(utts), "augmented": n}
    entries = aug.plan(aug.utts)
    check_sources(aug.planner.inputs, entries)  # before any spec or wav is written
    if materialise:
        aug.materialise(entries)
    stats = aug.write_dirs(entries)
    log.info("%s -> %s (%d clean crops of %d samples), %s (%d copies, %d pairs in utt2clean)%s",
             clean_dir, out_clean, stats["clean"], aug.planner.length, out_aug,
             stats["augmented"], stats["pairs"],
             "" if materialise else f"; no audio written: wav.scp renders from {SPEC_NAME}")
    return stats


__all__ = [
    "Augmenter",
    "Inputs",
    "PairPlanner",
    "RenderEntry",
    "RenderSpec",
    "Renderer",
    "augment_data_dir",
    "check_render_data_dir",
    "check_sources",
    "check_render_dir",
    "crop_samples",
    "crop_start",
    "drop_caches",
    "load_spec",
    "parse_render_pipe",
    "read_spec",
    "render_key",
    "render_pipe",
    "reverberate",
    "round_rng",
    "snr_mix",
    "wrap_crop",
    "write_rendered_wav",
]
