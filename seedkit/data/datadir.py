"""Kaldi data directories: ``wav.scp``, ``utt2spk``, ``spk2utt``, ``utt2dur``, ``segments``.

A data directory maps utterance ids to audio. ``wav.scp`` lines are ``<id> <path>`` or
``<id> <command> |`` (a shell pipe whose stdout is a wav file; the command is kept exactly as
written). When ``segments`` (``<utt> <recording> <start> <end>``, seconds, ``end`` may be ``-1``
for "to the end") exists, ``wav.scp`` is keyed by recording and utterances are the segment ids.
Every table's keys are unique and sorted in the C locale (``LC_ALL=C sort``), and, as in Kaldi,
utterance ids sort in speaker order (make them start with ``<speaker>-``).

Other tables are carried along when present, validated for key consistency, and subset, split,
fixed and copied with the rest: per-utterance ``extra`` tables (:data:`EXTRA_UTT_TABLES`, e.g.
``utt2env``, ``utt2clean``, ``text``) and per-recording tables (:data:`RECO_TABLES`, ``reco2dur``).
"""

from __future__ import annotations

import shlex
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import (
    c_sorted,
    is_c_sorted,
    iter_lines,
    iter_table,
    write_lines,
)

#: Per-utterance tables carried through subset/split/fix/copy when present.
EXTRA_UTT_TABLES = ("utt2env", "utt2clean", "utt2lang", "utt2gender", "utt2num_samples",
                    "utt2num_frames", "utt2uniq", "text")
#: Extra tables whose value is the rest of the line (several fields); the others have one value.
MULTI_FIELD_TABLES = ("text",)
#: Per-recording tables (keyed like ``wav.scp``) carried along when present.
RECO_TABLES = ("reco2dur",)
#: Every file name this module reads and writes.
ALL_TABLES = ("wav.scp", "utt2spk", "spk2utt", "utt2dur", "segments") + EXTRA_UTT_TABLES \
    + RECO_TABLES


@dataclass
class DataDir:
    """An in-memory Kaldi data directory. Dict order is the file order (C-sorted when valid)."""

    wav_scp: "OrderedDict[str, str]" = field(default_factory=OrderedDict)
    utt2spk: "OrderedDict[str, str]" = field(default_factory=OrderedDict)
    spk2utt: "OrderedDict[str, list[str]]" = field(default_factory=OrderedDict)
    utt2dur: "Optional[OrderedDict[str, float]]" = None
    segments: "Optional[OrderedDict[str, tuple[str, float, float]]]" = None
    extra: "dict[str, OrderedDict[str, str]]" = field(default_factory=dict)
    reco_extra: "dict[str, OrderedDict[str, str]]" = field(default_factory=dict)
    path: Optional[Path] = None

    @property
    def utts(self) -> list[str]:
        """Utterance ids in ``utt2spk`` order."""
        return list(self.utt2spk)

    def recording_of(self, utt: str) -> str:
        """The ``wav.scp`` key that holds ``utt``'s audio."""
        if self.segments is not None:
            return self.segments[utt][0]
        return utt

    def wav_entry(self, utt: str) -> str:
        """The ``wav.scp`` value (path or ``cmd |``) for ``utt``'s recording."""
        return self.wav_scp[self.recording_of(utt)]

    def __len__(self) -> int:
        return len(self.utt2spk)


def is_pipe(entry: str) -> bool:
    """True for a ``wav.scp`` value that is a shell command ending in ``|``."""
    return entry.rstrip().endswith("|")


def check_pipe(entry: str, path: PathLike, line: int) -> None:
    """Raise if a pipe entry is not a well-formed shell command (``cmd args |``)."""
    cmd = entry.rstrip()[:-1].strip()
    if not cmd:
        raise SeedkitError("pipe entry has no command before '|'", path, line)
    if cmd.endswith("|"):
        raise SeedkitError("pipe entry ends in '| |'; remove the extra '|'", path, line)
    if cmd.startswith("|"):
        raise SeedkitError("pipe entry starts with '|'; it needs a command first", path, line)
    try:
        shlex.split(cmd)
    except ValueError as err:
        raise SeedkitError(f"pipe entry is not valid shell ({err}); fix its quoting",
                           path, line) from None


def _read_unique(path: Path, min_fields: int, max_fields: Optional[int]):
    seen: dict[str, int] = {}
    rows = []
    for n, fields in iter_table(path, min_fields=min_fields, max_fields=max_fields):
        _check_new_key(fields[0], seen, path, n)
        rows.append((n, fields))
    return rows


def _check_new_key(key: str, seen: dict[str, int], path: Path, n: int) -> None:
    if key in seen:
        raise SeedkitError(f"duplicate key {key!r} (first on line {seen[key]}); "
                           "keys must be unique: remove or rename one of the two lines", path, n)
    seen[key] = n


def _read_rest_of_line(path: PathLike) -> "OrderedDict[str, str]":
    """``<key> <value...>`` with the value kept as written (e.g. a pipe command)."""
    path = Path(path)
    out: OrderedDict[str, str] = OrderedDict()
    seen: dict[str, int] = {}
    for n, line in iter_lines(path):
        fields = line.strip().split(maxsplit=1)
        if len(fields) < 2:
            raise SeedkitError(f"expected '<key> <value>', got {line.strip()!r}", path, n)
        _check_new_key(fields[0], seen, path, n)
        out[fields[0]] = fields[1].strip()
    return out


def read_wav_scp(path: PathLike) -> "OrderedDict[str, str]":
    """Read ``wav.scp``: ``<id> <path>`` or ``<id> <cmd ...> |`` (command kept verbatim)."""
    path = Path(path)
    out = _read_rest_of_line(path)
    for n, (key, value) in enumerate(out.items(), start=1):
        if is_pipe(value):
            check_pipe(value, path, n)
        elif len(value.split()) > 1:
            raise SeedkitError(
                f"entry of {key!r} is a path with spaces or a command without a final '|'; "
                "file names with spaces are not supported, and a command must end with '|'",
                path, n)
    return out


def read_utt2x(path: PathLike) -> "OrderedDict[str, str]":
    """Read a one-value table ``<key> <value>`` (``utt2spk``, ``utt2env``, ``utt2clean``...)."""
    path = Path(path)
    return OrderedDict((f[0], f[1]) for _, f in _read_unique(path, 2, 2))


def read_spk2utt(path: PathLike) -> "OrderedDict[str, list[str]]":
    """Read ``spk2utt``: ``<spk> <utt1> <utt2> ...``."""
    path = Path(path)
    return OrderedDict((f[0], f[1:]) for _, f in _read_unique(path, 2, None))


def read_utt2dur(path: PathLike) -> "OrderedDict[str, float]":
    """Read ``utt2dur`` (``<utt> <seconds>``); durations must be numbers >= 0."""
    path = Path(path)
    out: OrderedDict[str, float] = OrderedDict()
    for n, f in _read_unique(path, 2, 2):
        try:
            dur = float(f[1])
        except ValueError:
            raise SeedkitError(f"duration {f[1]!r} is not a number", path, n) from None
        if not dur >= 0:
            raise SeedkitError(f"duration {f[1]!r} must be >= 0", path, n)
        out[f[0]] = dur
    return out


def read_segments(path: PathLike) -> "OrderedDict[str, tuple[str, float, float]]":
    """Read ``segments``: ``<utt> <recording> <start> <end>`` (seconds; ``end`` -1: to the end)."""
    path = Path(path)
    out: OrderedDict[str, tuple[str, float, float]] = OrderedDict()
    for n, f in _read_unique(path, 4, 4):
        try:
            start, end = float(f[2]), float(f[3])
        except ValueError:
            raise SeedkitError("segment start/end must be numbers (seconds)", path, n) from None
        if not (start >= 0 and (start < end or end == -1)):
            raise SeedkitError(f"segment needs 0 <= start < end (or end -1), got {f[2]} {f[3]}",
                               path, n)
        out[f[0]] = (f[1], start, end)
    return out


def read_extra_table(path: PathLike) -> "OrderedDict[str, str]":
    """Read an extra table: one value, or the rest of the line for :data:`MULTI_FIELD_TABLES`."""
    path = Path(path)
    if path.name in MULTI_FIELD_TABLES:
        return _read_rest_of_line(path)
    return read_utt2x(path)


def spk2utt_from_utt2spk(utt2spk: "dict[str, str]") -> "OrderedDict[str, list[str]]":
    """Invert ``utt2spk`` (what ``utils/utt2spk_to_spk2utt.pl`` does), C-sorted."""
    spk: dict[str, list[str]] = {}
    for utt in c_sorted(utt2spk):
        spk.setdefault(utt2spk[utt], []).append(utt)
    return OrderedDict((s, spk[s]) for s in c_sorted(spk))


def load_data_dir(path: PathLike) -> DataDir:
    """Read a data directory. ``spk2utt`` is derived from ``utt2spk`` when absent.

    Needs ``wav.scp`` and ``utt2spk``; reads ``utt2dur``, ``segments`` and the extra tables when
    present. Does not validate cross-file consistency: call :func:`validate_data_dir` for that.
    """
    path = Path(path)
    if not path.is_dir():
        raise SeedkitError("data directory not found", path)
    for name in ("wav.scp", "utt2spk"):
        if not (path / name).is_file():
            raise SeedkitError(f"data directory has no {name}; every data dir needs wav.scp and "
                               "utt2spk", path / name)
    dd = DataDir(path=path)
    dd.wav_scp = read_wav_scp(path / "wav.scp")
    dd.utt2spk = read_utt2x(path / "utt2spk")
    if (path / "spk2utt").is_file():
        dd.spk2utt = read_spk2utt(path / "spk2utt")
    else:
        dd.spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
    if (path / "utt2dur").is_file():
        dd.utt2dur = read_utt2dur(path / "utt2dur")
    if (path / "segments").is_file():
        dd.segments = read_segments(path / "segments")
    for name in EXTRA_UTT_TABLES:
        if (path / name).is_file():
            dd.extra[name] = read_extra_table(path / name)
    for name in RECO_TABLES:
        if (path / name).is_file():
            dd.reco_extra[name] = read_extra_table(path / name)
    return dd


def _num(x: float) -> str:
    """Shortest text that reads back as the same float (``3.0`` -> ``3``)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def write_data_dir(dd: DataDir, path: PathLike) -> None:
    """Write ``dd`` to ``path`` (each file atomically), C-sorted, ``spk2utt`` always written.

    Tables of :data:`ALL_TABLES` that ``dd`` does not hold are removed from ``path``, so a
    directory written over an older one never keeps a stale ``utt2dur`` or ``segments``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    written = {"wav.scp", "utt2spk", "spk2utt"}
    write_lines(path / "wav.scp", (f"{k} {dd.wav_scp[k]}" for k in c_sorted(dd.wav_scp)))
    write_lines(path / "utt2spk", (f"{k} {dd.utt2spk[k]}" for k in c_sorted(dd.utt2spk)))
    spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
    write_lines(path / "spk2utt", (f"{s} {' '.join(u)}" for s, u in spk2utt.items()))
    if dd.utt2dur is not None:
        written.add("utt2dur")
        write_lines(path / "utt2dur", (f"{k} {_num(dd.utt2dur[k])}" for k in c_sorted(dd.utt2dur)))
    if dd.segments is not None:
        written.add("segments")
        write_lines(path / "segments", (
            f"{k} {r} {_num(s)} {_num(e)}" for k in c_sorted(dd.segments)
            for r, s, e in [dd.segments[k]]))
    for name, table in list(dd.extra.items()) + list(dd.reco_extra.items()):
        written.add(name)
        write_lines(path / name, (f"{k} {table[k]}" for k in c_sorted(table)))
    for name in ALL_TABLES:
        if name not in written:
            (path / name).unlink(missing_ok=True)


def _first_line_of(path: Path, key: str) -> int:
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, raw in enumerate(f, start=1):
            fields = raw.split()
            if fields and fields[0] == key:
                return n
    return 0


def validate_data_dir(path: PathLike, check_files: bool = True,
                      check_spk_sort: bool = True) -> DataDir:
    """Check a data directory; raise :class:`SeedkitError` naming the first problem.

    Checks: each table parses (no blank or malformed lines, no empty file), keys are unique and
    C-sorted; ``utt2spk`` and ``spk2utt`` agree; with ``check_spk_sort``, utterance order is also
    speaker order (Kaldi's rule; needed to split by speaker into contiguous parts);
    ``utt2dur``/extra tables have the utterance key set; ``wav.scp`` has the recording key set
    (the utterances; with ``segments``, at least the recordings the segments use) and
    ``reco2dur`` the ``wav.scp`` keys; pipes are well-formed shell; with ``check_files``, every
    audio path exists.
    """
    path = Path(path)
    dd = load_data_dir(path)
    tables: list[tuple[str, list[str]]] = [("wav.scp", list(dd.wav_scp)), ("utt2spk", dd.utts)]
    if (path / "spk2utt").is_file():
        tables.append(("spk2utt", list(dd.spk2utt)))
    if dd.utt2dur is not None:
        tables.append(("utt2dur", list(dd.utt2dur)))
    if dd.segments is not None:
        tables.append(("segments", list(dd.segments)))
    tables += [(name, list(t)) for name, t in dd.extra.items()]
    tables += [(name, list(t)) for name, t in dd.reco_extra.items()]
    for name, keys in tables:
        if not keys:
            raise SeedkitError("file is empty; a data dir needs at least one utterance (remove "
                               "the file or the directory, or re-run the stage that wrote it)",
                               path / name)
        enc = [k.encode("utf-8") for k in keys]
        for i in range(1, len(enc)):
            if enc[i - 1] > enc[i]:
                raise SeedkitError(f"keys not sorted in C locale ({keys[i-1]!r} before "
                                   f"{keys[i]!r}); run utils/fix_data_dir.sh", path / name, i + 1)
    utts = set(dd.utt2spk)
    if (path / "spk2utt").is_file():
        derived = spk2utt_from_utt2spk(dd.utt2spk)
        for n, (spk, us) in enumerate(dd.spk2utt.items(), start=1):
            if derived.get(spk) != c_sorted(us):
                raise SeedkitError(f"speaker {spk!r} does not match utt2spk; regenerate spk2utt "
                                   "with utils/utt2spk_to_spk2utt.pl (or utils/fix_data_dir.sh)",
                                   path / "spk2utt", n)
        if set(derived) != set(dd.spk2utt):
            missing = c_sorted(set(derived) - set(dd.spk2utt))
            raise SeedkitError(f"{len(missing)} speakers of utt2spk missing, first "
                               f"{missing[:5]}; regenerate spk2utt", path / "spk2utt")
    if check_spk_sort:
        _check_speaker_order(dd, path / "utt2spk")
    if dd.segments is not None:
        want_recs = {r for r, _, _ in dd.segments.values()}
        _check_keys(path / "segments", set(dd.segments), utts, "utt2spk")
    else:
        want_recs = utts
    # With segments, wav.scp may hold recordings no segment uses (as in Kaldi).
    have_recs = set(dd.wav_scp) if dd.segments is None else set(dd.wav_scp) & want_recs
    _check_keys(path / "wav.scp", have_recs, want_recs,
                "segments" if dd.segments is not None else "utt2spk")
    if dd.utt2dur is not None:
        _check_keys(path / "utt2dur", set(dd.utt2dur), utts, "utt2spk")
    for name, table in dd.extra.items():
        _check_keys(path / name, set(table), utts, "utt2spk")
    for name, table in dd.reco_extra.items():
        _check_keys(path / name, set(table), set(dd.wav_scp), "wav.scp")
    if check_files:
        for n, (key, entry) in enumerate(dd.wav_scp.items(), start=1):
            if not is_pipe(entry) and not Path(entry).is_file():
                raise SeedkitError(f"audio file {entry} of {key!r} does not exist",
                                   path / "wav.scp", n)
    return dd


def _check_speaker_order(dd: DataDir, where: Path) -> None:
    """Kaldi's rule: sorting utt2spk by speaker (then utterance) keeps the utterance order."""
    utts = dd.utts
    by_spk = sorted(utts, key=lambda u: (dd.utt2spk[u].encode("utf-8"), u.encode("utf-8")))
    for have, want in zip(utts, by_spk):
        if have != want:  # ``want`` is the first utterance that sits away from its speaker
            raise OptionError(
                f"utterance {want!r} (speaker {dd.utt2spk[want]!r}) is out of speaker order: "
                "sorted utterance ids must also be sorted by speaker; make every utterance id "
                "start with '<speaker>-' (or pass ", Param("check_spk_sort", False), ")",
                path=where, line=utts.index(want) + 1)


def _check_keys(table: Path, have: set[str], want: set[str], ref: str) -> None:
    extra = c_sorted(have - want)
    if extra:
        n = _first_line_of(table, extra[0])
        raise SeedkitError(f"{len(extra)} keys not in {ref}, first {extra[:5]}; run "
                           "utils/fix_data_dir.sh", table, n)
    missing = c_sorted(want - have)
    if missing:
        raise SeedkitError(f"{len(missing)} keys of {ref} missing, first {missing[:5]}; run "
                           "utils/fix_data_dir.sh", table)


def _all_utt_ids(dd: DataDir) -> set[str]:
    """Every utterance id any per-utterance table mentions."""
    ids = set(dd.utt2spk) | set(dd.segments if dd.segments is not None else dd.wav_scp)
    if dd.utt2dur is not None:
        ids |= set(dd.utt2dur)
    for table in dd.extra.values():
        ids |= set(table)
    return ids


def complete_utts(dd: DataDir) -> set[str]:
    """Utterances present in every table (with their recording in every per-recording table)."""
    utts = set(dd.utt2spk)
    if dd.segments is not None:
        utts &= set(dd.segments)
    recs = set(dd.wav_scp)
    for table in dd.reco_extra.values():
        recs &= set(table)
    utts = {u for u in utts if dd.recording_of(u) in recs}
    if dd.utt2dur is not None:
        utts &= set(dd.utt2dur)
    for table in dd.extra.values():
        utts &= set(table)
    return utts


def check_complete(dd: DataDir, path: PathLike) -> None:
    """Raise unless ``dd`` has utterances and every one is in every table (what copy and subset
    need to write a valid data dir; unsorted tables are fine, the output is sorted)."""
    path = Path(path)
    if not dd.utt2spk:
        raise SeedkitError("utt2spk is empty; a data dir needs at least one utterance",
                           path / "utt2spk")
    partial = c_sorted(_all_utt_ids(dd) - complete_utts(dd))
    if partial:
        raise SeedkitError(f"{len(partial)} utterances are not in every table (first "
                           f"{partial[:5]}); the tables disagree: run utils/fix_data_dir.sh on "
                           "it first", path)


def fix_data_dir(path: PathLike) -> dict[str, int]:
    """Sort every table and keep only utterances present in every table (as Kaldi's
    ``fix_data_dir.sh``); ``spk2utt`` is rebuilt from ``utt2spk``. Rewrites the directory in
    place (atomically per file) and returns ``{"kept": n, "dropped": m}``, where ``dropped``
    counts the utterance ids some table mentioned but that were not kept. Duplicate keys are
    errors, not silently dropped; if nothing would be kept, nothing is written.
    """
    path = Path(path)
    dd = load_data_dir(path)
    utts = complete_utts(dd)
    before = len(_all_utt_ids(dd))
    if not utts:
        raise SeedkitError(f"no utterance is in every table ({before} ids seen); nothing to "
                           "keep: check that wav.scp, utt2spk and the other tables use the same "
                           "ids", path)
    fixed = subset_data_dir(dd, utts)
    write_data_dir(fixed, path)
    return {"kept": len(fixed), "dropped": before - len(fixed)}


def subset_data_dir(dd: DataDir, utts: Iterable[str]) -> DataDir:
    """A new DataDir holding only ``utts`` (and their recordings and speakers); ids that ``dd``
    does not hold are ignored."""
    keep = c_sorted(u for u in set(utts) if u in dd.utt2spk)
    out = DataDir()
    out.utt2spk = OrderedDict((u, dd.utt2spk[u]) for u in keep)
    out.spk2utt = spk2utt_from_utt2spk(out.utt2spk)
    if dd.segments is not None:
        out.segments = OrderedDict((u, dd.segments[u]) for u in keep if u in dd.segments)
        recs = {r for r, _, _ in out.segments.values()}
    else:
        recs = set(keep)
    out.wav_scp = OrderedDict((r, dd.wav_scp[r]) for r in c_sorted(recs) if r in dd.wav_scp)
    if dd.utt2dur is not None:
        out.utt2dur = OrderedDict((u, dd.utt2dur[u]) for u in keep if u in dd.utt2dur)
    out.extra = {name: OrderedDict((u, t[u]) for u in keep if u in t)
                 for name, t in dd.extra.items()}
    out.reco_extra = {name: OrderedDict((r, t[r]) for r in out.wav_scp if r in t)
                      for name, t in dd.reco_extra.items()}
    return out


def subset_by_speakers(dd: DataDir, speakers: Iterable[str]) -> DataDir:
    """A new DataDir holding every utterance of ``speakers``."""
    spks = set(speakers)
    return subset_data_dir(dd, (u for u, s in dd.utt2spk.items() if s in spks))


def rename_data_dir(dd: DataDir, utt_map: Callable[[str], str],
                    spk_map: Callable[[str], str]) -> DataDir:
    """A copy of ``dd`` with utterance ids mapped by ``utt_map`` and speaker ids by ``spk_map``
    (Kaldi's ``copy_data_dir.sh --utt-prefix/--spk-prefix``). Recording ids change with the
    utterance ids only when there is no ``segments`` file (then they are the utterance ids).
    Values of extra tables (e.g. the clean ids of ``utt2clean``) are left as they are."""
    def remap(table):
        return OrderedDict((utt_map(k), v) for k, v in table.items())

    out = DataDir()
    out.utt2spk = OrderedDict((utt_map(u), spk_map(s)) for u, s in dd.utt2spk.items())
    if len(set(out.utt2spk)) != len(dd.utt2spk):
        raise SeedkitError("renaming made two utterance ids equal", dd.path)
    out.spk2utt = spk2utt_from_utt2spk(out.utt2spk)
    if dd.segments is not None:
        out.segments = remap(dd.segments)
        out.wav_scp = OrderedDict(dd.wav_scp)
        out.reco_extra = {n: OrderedDict(t) for n, t in dd.reco_extra.items()}
    else:
        out.wav_scp = remap(dd.wav_scp)
        out.reco_extra = {n: remap(t) for n, t in dd.reco_extra.items()}
    if dd.utt2dur is not None:
        out.utt2dur = remap(dd.utt2dur)
    out.extra = {n: remap(t) for n, t in dd.extra.items()}
    return out


__all__ = [
    "ALL_TABLES",
    "DataDir",
    "EXTRA_UTT_TABLES",
    "MULTI_FIELD_TABLES",
    "RECO_TABLES",
    "check_complete",
    "check_pipe",
    "complete_utts",
    "fix_data_dir",
    "is_c_sorted",
    "is_pipe",
    "load_data_dir",
    "read_extra_table",
    "read_segments",
    "read_spk2utt",
    "read_utt2dur",
    "read_utt2x",
    "read_wav_scp",
    "rename_data_dir",
    "spk2utt_from_utt2spk",
    "subset_by_speakers",
    "subset_data_dir",
    "validate_data_dir",
    "write_data_dir",
]
