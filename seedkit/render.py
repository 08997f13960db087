"""Rendering training-pair waveforms: the corruption maths, the audio tables of the clean, MUSAN
and RIR data dirs, the :class:`Renderer` of ``render.spec`` entries and the per-process spec cache.

The maths are SEED's (see docs/method.md): reverb normalises the RIR to unit energy
``h / sqrt(sum(h^2))``, then ``scipy.signal.convolve(x, h, "full")[:L]`` (no delay compensation);
additive mixing: ``clean_dB = 10 log10(mean(x^2) + 1e-4)``, likewise ``noise_dB``, noise scaled by
``sqrt(10^((clean_dB - noise_dB - snr) / 10))`` and added. :class:`Renderer` turns a
:class:`~seedkit.render_spec.RenderEntry` into float32 samples with this maths: the one code path
for wav files, extraction and on-the-fly training.

A spec-mode data dir's ``wav.scp`` lines are ``<key> seedkit-render-wav <dir>/render.spec <key> |``;
:func:`read_entry` renders them in process (:func:`render_key`), any other tool runs them as a pipe.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
from scipy import signal

from seedkit.audio import check_rate, read_audio
from seedkit.crops import wrap_crop
from seedkit.data.datadir import DataDir, is_pipe, validate_data_dir
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import c_sorted, describe_binary
from seedkit.inplace import in_place_file
from seedkit.render_spec import (
    MULTI_KINDS,
    SOURCES_NAME,
    RenderEntry,
    parse_render_pipe,
    read_sources,
)
from seedkit.resample import wav_scp_lines

log = logging.getLogger(__name__)


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
        x, _ = read_entry(entry, self.rate, where=where, line=line, key=key)
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
            in_place = in_place_file(src.entry, src.where, src.line, key)
            if in_place is not None:  # a file read where it lies: its header, no decoding
                check_rate(in_place.rate, self.rate, f"{key!r}: {src.entry!r}", src.where,
                           src.line)
                src.length = in_place.length() - src.offset
            elif is_pipe(src.entry) or not os.path.isfile(src.entry):
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
        in_place = in_place_file(src.entry, src.where, src.line, key)
        if in_place is not None:  # only the span (and the resampler's margin) is read
            x = np.asarray(in_place.read(src.offset + start, frames), np.float64)
            if not np.isfinite(x).all():
                self._not_finite(key)
            return x
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


def read_entry(entry: str, expected_rate: Optional[int] = None, *,
               where: Optional[PathLike] = None, line: int = 0, key: str = ""
               ) -> tuple[np.ndarray, int]:
    """:func:`seedkit.audio.read_audio` of a ``wav.scp`` value, except that a render pipe
    (:func:`render_pipe`) is rendered in process with the cached spec and renderer (the same
    samples as running it, no subprocess)."""
    pipe = parse_render_pipe(entry)
    if pipe is None:
        return read_audio(entry, expected_rate, where=where, line=line, key=key)
    samples, rate = render_key(pipe[0], pipe[1], where, line)
    what = f"{key!r}: " if key else ""
    check_rate(rate, expected_rate, f"{what}rendered {pipe[1]!r}", where, line)
    return samples, rate


__all__ = [
    "AudioTable",
    "Inputs",
    "RenderSpec",
    "Renderer",
    "Source",
    "check_render_data_dir",
    "check_render_dir",
    "drop_caches",
    "load_spec",
    "read_entry",
    "read_spec",
    "render_key",
    "reverberate",
    "snr_mix",
    "write_rendered_wav",
]
