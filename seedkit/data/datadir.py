"""Kaldi data directories: ``wav.scp``, ``utt2spk``, ``spk2utt``, ``utt2dur``, ``segments``.

A data directory maps utterance ids to audio. ``wav.scp`` lines are ``<id> <path>`` or
``<id> <command> |`` (a shell pipe whose stdout is a wav file). When ``segments``
(``<utt> <recording> <start> <end>``) exists, ``wav.scp`` is keyed by recording and utterances are
the segment ids. Every table's keys are unique and sorted in the C locale (``LC_ALL=C sort``).

Other per-utterance tables that seedkit writes (``utt2env``, ``utt2clean``) are carried along as
``extra`` tables: validated for key consistency, subset and split with the rest.
"""

from __future__ import annotations

import shlex
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_text_writer, c_sorted, is_c_sorted, iter_table, write_lines

#: Per-utterance tables with one value that are carried through subset/split/fix when present.
EXTRA_UTT_TABLES = ("utt2env", "utt2clean", "utt2lang", "utt2gender", "utt2num_samples")


@dataclass
class DataDir:
    """An in-memory Kaldi data directory. Dict order is the file order (C-sorted when valid)."""

    wav_scp: "OrderedDict[str, str]" = field(default_factory=OrderedDict)
    utt2spk: "OrderedDict[str, str]" = field(default_factory=OrderedDict)
    spk2utt: "OrderedDict[str, list[str]]" = field(default_factory=OrderedDict)
    utt2dur: "Optional[OrderedDict[str, float]]" = None
    segments: "Optional[OrderedDict[str, tuple[str, float, float]]]" = None
    extra: "dict[str, OrderedDict[str, str]]" = field(default_factory=dict)
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
    if "|" in cmd.replace("||", "") and cmd.rstrip().endswith("|"):
        raise SeedkitError("pipe entry ends in '| |'; remove the extra '|'", path, line)
    try:
        shlex.split(cmd)
    except ValueError as err:
        raise SeedkitError(f"pipe entry is not valid shell ({err}); fix its quoting", path, line)


def _read_unique(path: Path, min_fields: int, max_fields: Optional[int]):
    seen: dict[str, int] = {}
    rows = []
    for n, fields in iter_table(path, min_fields=min_fields, max_fields=max_fields):
        key = fields[0]
        if key in seen:
            raise SeedkitError(f"duplicate key {key!r} (first on line {seen[key]}); "
                               "keys must be unique (run utils/fix_data_dir.sh)", path, n)
        seen[key] = n
        rows.append((n, fields))
    return rows


def read_wav_scp(path: PathLike) -> "OrderedDict[str, str]":
    """Read ``wav.scp``: ``<id> <path>`` or ``<id> <cmd ...> |``."""
    path = Path(path)
    out: OrderedDict[str, str] = OrderedDict()
    for n, fields in _read_unique(path, 2, None):
        value = " ".join(fields[1:])
        if is_pipe(value):
            check_pipe(value, path, n)
        elif len(fields) > 2:
            raise SeedkitError(
                "a path entry must be one field (file names with spaces are not supported; "
                "a command must end with '|')", path, n)
        out[fields[0]] = value
    return out


def read_utt2x(path: PathLike) -> "OrderedDict[str, str]":
    """Read a one-value table ``<key> <value>`` (``utt2spk``, ``utt2env``, ``utt2clean``...)."""
    path = Path(path)
    return OrderedDict((f[0], f[1]) for _, f in _read_unique(path, 2, 2))


def read_spk2utt(path: PathLike) -> "OrderedDict[str, list[str]]":
    path = Path(path)
    return OrderedDict((f[0], f[1:]) for _, f in _read_unique(path, 2, None))


def read_utt2dur(path: PathLike) -> "OrderedDict[str, float]":
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
    path = Path(path)
    out: OrderedDict[str, tuple[str, float, float]] = OrderedDict()
    for n, f in _read_unique(path, 4, 4):
        try:
            start, end = float(f[2]), float(f[3])
        except ValueError:
            raise SeedkitError("segment start/end must be numbers (seconds)", path, n) from None
        if not (0 <= start < end or end == -1):
            raise SeedkitError(f"segment needs 0 <= start < end, got {start} {end}", path, n)
        out[f[0]] = (f[1], start, end)
    return out


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
            dd.extra[name] = read_utt2x(path / name)
    return dd


def write_data_dir(dd: DataDir, path: PathLike) -> None:
    """Write ``dd`` to ``path`` (each file atomically), C-sorted, ``spk2utt`` always written."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_lines(path / "wav.scp", (f"{k} {dd.wav_scp[k]}" for k in c_sorted(dd.wav_scp)))
    write_lines(path / "utt2spk", (f"{k} {dd.utt2spk[k]}" for k in c_sorted(dd.utt2spk)))
    spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
    write_lines(path / "spk2utt", (f"{s} {' '.join(u)}" for s, u in spk2utt.items()))
    if dd.utt2dur is not None:
        write_lines(path / "utt2dur", (f"{k} {dd.utt2dur[k]:.3f}" for k in c_sorted(dd.utt2dur)))
    if dd.segments is not None:
        write_lines(path / "segments", (
            f"{k} {r} {s:.3f} {e:.3f}" for k in c_sorted(dd.segments)
            for r, s, e in [dd.segments[k]]))
    for name, table in dd.extra.items():
        write_lines(path / name, (f"{k} {table[k]}" for k in c_sorted(table)))


def _first_line_of(path: Path, key: str) -> int:
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            fields = raw.split()
            if fields and fields[0] == key:
                return n
    return 0


def validate_data_dir(path: PathLike, check_files: bool = True) -> DataDir:
    """Check a data directory; raise :class:`SeedkitError` naming the first problem.

    Checks: each table parses, keys are unique and C-sorted; ``utt2spk`` and ``spk2utt`` agree;
    ``utt2dur``/extra tables have the utterance key set; ``wav.scp`` has the recording key set
    (utterances, or the recordings of ``segments``); with ``check_files``, every path exists and
    every pipe is well-formed shell.
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
    for name, keys in tables:
        enc = [k.encode("utf-8") for k in keys]
        for i in range(1, len(enc)):
            if enc[i - 1] > enc[i]:
                raise SeedkitError(f"keys not sorted in C locale ({keys[i-1]!r} before "
                                   f"{keys[i]!r}); run utils/fix_data_dir.sh", path / name, i + 1)
    utts = set(dd.utt2spk)
    if not utts:
        raise SeedkitError("utt2spk is empty", path / "utt2spk")
    if (path / "spk2utt").is_file():
        derived = spk2utt_from_utt2spk(dd.utt2spk)
        for n, (spk, us) in enumerate(dd.spk2utt.items(), start=1):
            if derived.get(spk) != c_sorted(us):
                raise SeedkitError(f"speaker {spk!r} does not match utt2spk; regenerate spk2utt "
                                   "with utils/utt2spk_to_spk2utt.pl", path / "spk2utt", n)
        if set(derived) != set(dd.spk2utt):
            missing = c_sorted(set(derived) - set(dd.spk2utt))
            raise SeedkitError(f"{len(missing)} speakers of utt2spk missing, first "
                               f"{missing[:5]}; regenerate spk2utt", path / "spk2utt")
    if dd.segments is not None:
        want_recs = {r for r, _, _ in dd.segments.values()}
        seg_utts = set(dd.segments)
        _check_keys(path / "segments", seg_utts, utts, "utt2spk", path)
    else:
        want_recs = utts
    _check_keys(path / "wav.scp", set(dd.wav_scp), want_recs,
                "segments" if dd.segments is not None else "utt2spk", path)
    if dd.utt2dur is not None:
        _check_keys(path / "utt2dur", set(dd.utt2dur), utts, "utt2spk", path)
    for name, table in dd.extra.items():
        _check_keys(path / name, set(table), utts, "utt2spk", path)
    if check_files:
        for n, (key, entry) in enumerate(dd.wav_scp.items(), start=1):
            if is_pipe(entry):
                check_pipe(entry, path / "wav.scp", n)
            elif not Path(entry).is_file():
                raise SeedkitError(f"audio file {entry} of {key!r} does not exist",
                                   path / "wav.scp", n)
    return dd


def _check_keys(table: Path, have: set[str], want: set[str], ref: str, root: Path) -> None:
    extra = c_sorted(have - want)
    if extra:
        n = _first_line_of(table, extra[0])
        raise SeedkitError(f"{len(extra)} keys not in {ref}, first {extra[:5]}; run "
                           "utils/fix_data_dir.sh", table, n)
    missing = c_sorted(want - have)
    if missing:
        raise SeedkitError(f"{len(missing)} keys of {ref} missing, first {missing[:5]}; run "
                           "utils/fix_data_dir.sh", table)


def fix_data_dir(path: PathLike) -> dict[str, int]:
    """Sort every table and keep only utterances present in every table (as Kaldi's
    ``fix_data_dir.sh``). Rewrites the directory in place (atomically per file) and returns
    ``{"kept": n, "dropped": m}``. Duplicate keys are errors, not silently dropped.
    """
    path = Path(path)
    dd = load_data_dir(path)
    utts = set(dd.utt2spk)
    if dd.segments is not None:
        utts &= set(dd.segments)
        utts = {u for u in utts if dd.segments[u][0] in dd.wav_scp}
    else:
        utts &= set(dd.wav_scp)
    if dd.utt2dur is not None:
        utts &= set(dd.utt2dur)
    for table in dd.extra.values():
        utts &= set(table)
    before = len(set(dd.utt2spk) | set(dd.segments or dd.wav_scp))
    fixed = subset_data_dir(dd, utts)
    write_data_dir(fixed, path)
    return {"kept": len(fixed), "dropped": before - len(fixed)}


def subset_data_dir(dd: DataDir, utts) -> DataDir:
    """A new DataDir holding only ``utts`` (and their recordings and speakers)."""
    keep = c_sorted(u for u in set(utts) if u in dd.utt2spk)
    out = DataDir()
    out.utt2spk = OrderedDict((u, dd.utt2spk[u]) for u in keep)
    out.spk2utt = spk2utt_from_utt2spk(out.utt2spk)
    if dd.segments is not None:
        out.segments = OrderedDict((u, dd.segments[u]) for u in keep)
        recs = {r for r, _, _ in out.segments.values()}
    else:
        recs = set(keep)
    out.wav_scp = OrderedDict((r, dd.wav_scp[r]) for r in c_sorted(recs) if r in dd.wav_scp)
    if dd.utt2dur is not None:
        out.utt2dur = OrderedDict((u, dd.utt2dur[u]) for u in keep if u in dd.utt2dur)
    out.extra = {name: OrderedDict((u, t[u]) for u in keep if u in t)
                 for name, t in dd.extra.items()}
    return out


def split_data_dir(dd: DataDir, num_parts: int, by: str = "speaker") -> list[DataDir]:
    """Split into ``num_parts`` contiguous parts of near-equal size.

    ``by="speaker"`` keeps each speaker's utterances in one part (Kaldi's ``split_data.sh``);
    ``by="utt"`` splits utterances (``split_data.sh --per-utt``). Parts are contiguous in C order, so
    concatenating per-part outputs in part order gives a C-sorted whole.
    """
    if num_parts < 1:
        raise SeedkitError(f"number of parts must be >= 1, got {num_parts}")
    if by not in ("speaker", "utt"):
        raise SeedkitError(f"split must be by 'speaker' or 'utt', got {by!r}")
    if by == "utt":
        units = [[u] for u in c_sorted(dd.utt2spk)]
    else:
        # contiguous in utterance order: a speaker's utterances are contiguous when utt ids
        # start with the speaker id, as Kaldi requires; otherwise group by first occurrence.
        groups: OrderedDict[str, list[str]] = OrderedDict()
        for u in c_sorted(dd.utt2spk):
            groups.setdefault(dd.utt2spk[u], []).append(u)
        units = list(groups.values())
    if len(units) < num_parts:
        raise SeedkitError(f"cannot split {len(units)} {by}s into {num_parts} parts; use fewer "
                           "jobs (--nj)" + (" or split by utterance" if by == "speaker" else ""),
                           dd.path)
    total = sum(len(u) for u in units)
    parts: list[list[str]] = [[] for _ in range(num_parts)]
    # Greedy contiguous assignment: unit i goes to the part whose target range holds its middle.
    done = 0
    for unit in units:
        mid = done + len(unit) / 2
        idx = min(int(mid * num_parts / total), num_parts - 1)
        parts[idx].extend(unit)
        done += len(unit)
    # make sure no part is empty (possible with very uneven units): move units from neighbours
    for i in range(num_parts):
        if not parts[i]:
            donor = max(range(num_parts), key=lambda j: len(parts[j]))
            take = parts[donor][-1:] if by == "utt" else [
                u for u in parts[donor] if dd.utt2spk[u] == dd.utt2spk[parts[donor][-1]]]
            parts[donor] = [u for u in parts[donor] if u not in set(take)]
            parts[i] = take
    return [subset_data_dir(dd, p) for p in parts]


def write_split(dd: DataDir, data_dir: PathLike, num_parts: int, by: str = "speaker") -> Path:
    """Write Kaldi's split layout: ``<data>/split<N>[utt]/<1..N>/`` and return the split root.

    An existing complete split with the same utterances is reused (a re-run is a no-op).
    """
    data_dir = Path(data_dir)
    root = data_dir / (f"split{num_parts}" + ("utt" if by == "utt" else ""))
    stamp = root / ".complete"
    wanted = "\n".join(c_sorted(dd.utt2spk))
    if stamp.is_file() and stamp.read_text() == wanted:
        return root
    for i, part in enumerate(split_data_dir(dd, num_parts, by=by), start=1):
        write_data_dir(part, root / str(i))
    with atomic_text_writer(stamp) as f:
        f.write(wanted)
    return root


__all__ = [
    "DataDir",
    "EXTRA_UTT_TABLES",
    "check_pipe",
    "fix_data_dir",
    "is_c_sorted",
    "is_pipe",
    "load_data_dir",
    "read_segments",
    "read_spk2utt",
    "read_utt2dur",
    "read_utt2x",
    "read_wav_scp",
    "spk2utt_from_utt2spk",
    "split_data_dir",
    "subset_data_dir",
    "validate_data_dir",
    "write_data_dir",
    "write_split",
]
