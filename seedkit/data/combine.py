"""The union of Kaldi data directories (Kaldi's ``utils/combine_data.sh``), behind
``seedkit-combine-data-dir`` and ``utils/combine_data.sh``.

Two modes:

* default: ``wav.scp``, ``utt2spk`` (and ``spk2utt``), ``utt2dur`` when every source has it and
  ``segments``; a key in two sources is an error. When only some sources have ``segments``
  (Libri-Light cut at voice activity next to whole LibriTTS-R files), each utterance of the
  others becomes one segment covering its whole recording (0 to its ``utt2dur``, which it then
  needs).
* ``allow_repeated_keys``: ``wav.scp`` and ``utt2spk`` only; a key may repeat when it names the
  same speaker and byte-identical audio (the mini recipe's ``eval_snr*`` sets repeat
  ``eval_clean``'s clean utterances); the first source's ``wav.scp`` entry is kept.

Every source must be complete (every utterance in every table; ``utils/fix_data_dir.sh`` makes
it so). The union is written to a temporary sibling of ``dest`` and renamed over it when
complete, so a failure leaves nothing at ``dest`` (and an existing ``dest`` as it was).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections import OrderedDict
from pathlib import Path

from seedkit.data.datadir import (
    DataDir,
    check_complete,
    is_pipe,
    load_data_dir,
    write_data_dir,
)
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import c_sorted

__all__ = ["combine_data_dirs"]


def _whole_recording_segments(dd: DataDir) -> None:
    """Give every utterance of an unsegmented data dir one segment over its whole recording."""
    if dd.utt2dur is None or set(dd.utt2dur) != set(dd.utt2spk):
        raise SeedkitError("needs utt2dur for every utterance to combine with data dirs that "
                           "have segments", Path(dd.path) / "utt2dur")
    dd.segments = OrderedDict((u, (u, 0.0, dd.utt2dur[u])) for u in dd.utt2spk)


def _union_unique(dds: list[DataDir]) -> DataDir:
    out = DataDir()
    for field in ("wav_scp", "utt2spk"):
        merged: dict[str, str] = {}
        for dd in dds:
            table = getattr(dd, field)
            dup = set(merged) & set(table)
            if dup:
                raise SeedkitError(f"key {c_sorted(dup)[0]!r} is in two of the data dirs; "
                                   "keys must be unique", dd.path)
            merged.update(table)
        setattr(out, field, OrderedDict((k, merged[k]) for k in c_sorted(merged)))
    if all(dd.utt2dur is not None for dd in dds):
        d = {k: v for dd in dds for k, v in dd.utt2dur.items()}
        out.utt2dur = OrderedDict((k, d[k]) for k in c_sorted(d))
    if any(dd.segments is not None for dd in dds):
        for dd in dds:
            if dd.segments is None:
                _whole_recording_segments(dd)
        d = {k: v for dd in dds for k, v in dd.segments.items()}
        out.segments = OrderedDict((k, d[k]) for k in c_sorted(d))
    return out


def _same_audio(a: str, b: str) -> bool:
    if a == b:
        return True
    if is_pipe(a) or is_pipe(b) or not (os.path.isfile(a) and os.path.isfile(b)):
        return False
    return filecmp.cmp(a, b, shallow=False)


def _union_repeated(dds: list[DataDir]) -> DataDir:
    spk: dict[str, str] = {}
    wav: dict[str, str] = {}
    for dd in dds:
        for u, s in dd.utt2spk.items():
            if spk.setdefault(u, s) != s:
                raise SeedkitError(f"utterance {u} has two different speakers ({spk[u]} "
                                   f"before, {s} here)", Path(dd.path) / "utt2spk")
        for u, w in dd.wav_scp.items():
            first = wav.setdefault(u, w)
            if not _same_audio(first, w):
                raise SeedkitError(f"{w} differs from {first} under the same key {u}",
                                   Path(dd.path) / "wav.scp")
    return DataDir(wav_scp=OrderedDict((k, wav[k]) for k in c_sorted(wav)),
                   utt2spk=OrderedDict((k, spk[k]) for k in c_sorted(spk)))


def combine_data_dirs(srcs: list[PathLike], dest: PathLike,
                      allow_repeated_keys: bool = False) -> DataDir:
    """Write the union of the data dirs ``srcs`` to ``dest`` (see the module docstring) and
    return it."""
    if not srcs:
        raise SeedkitError("nothing to combine")
    dds = [load_data_dir(s) for s in srcs]
    for dd, src in zip(dds, srcs):
        check_complete(dd, src)
    out = _union_repeated(dds) if allow_repeated_keys else _union_unique(dds)
    dest = Path(dest)
    tmp = dest.parent / f".{dest.name}.combine.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_data_dir(out, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out.path = dest
    return out
