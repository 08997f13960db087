"""The ``render.spec`` format: one line per training-pair waveform, and ``render.sources``.

A line is ``<key> <clean> <start> <length> <kind> <source|-> <source-start> <snr|->``
(:class:`RenderEntry`); ``render.sources`` beside it names the clean, MUSAN and RIR data dirs and
the rate. A spec-mode data dir's ``wav.scp`` values are :func:`render_pipe` commands.
"""

from __future__ import annotations

import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import iter_table

KINDS = ("music", "noise", "reverb")
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


__all__ = [
    "ENTRY_KINDS",
    "KINDS",
    "MULTI_KINDS",
    "RENDER_COMMAND",
    "SNR_KINDS",
    "SOURCES_NAME",
    "SPEC_NAME",
    "RenderEntry",
    "parse_render_pipe",
    "read_sources",
    "render_pipe",
]
