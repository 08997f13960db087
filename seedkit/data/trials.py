"""Trial lists: the one reader (and the writer) of seedkit's trial format.

Forms, detected per file from its first line; every line must be in the file's form:

* Kaldi ``<enroll> <test> target|nontarget`` (a line whose third field is a label);
* VoxCeleb ``<1|0> <a.wav> <b.wav>``;
* unlabelled ``<enroll> <test>`` (scoring only: :func:`read_trial_list`; :func:`read_trials`
  wants labels).

Key mapping for the VoxCeleb form (stated, so keys match the data dirs lhotse/Kaldi write): the
``.wav`` suffix is dropped and ``/`` becomes ``-``, so ``id10270/x6uYqmx31kE/00001.wav`` becomes
``id10270-x6uYqmx31kE-00001``. ``key_mapping="path"`` keeps the path unchanged instead.

Reading: a file whose lines are all fields joined by single spaces (the form every recipe writes)
is cut into columns from the positions of its spaces and newlines (:func:`line_shape`, numpy: a
million lines in well under a second); anything else goes through the checking parser, which
names the file and line of the first problem. Both give the same trials for the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import read_text, write_lines

__all__ = ["LABELS", "LineShape", "Trial", "TrialList", "as_trial_list", "line_shape",
           "read_trial_list", "read_trials", "voxceleb_path_to_key", "write_trials"]

LABELS = {"target": True, "nontarget": False}
KEY_MAPPINGS = ("kaldi", "path")
# whitespace that str.split() splits on, other than ' ' and '\n' (ASCII: as bytes, for speed)
_OTHER_SPACE = re.compile(r"[^\S \n]")
ASCII_OTHER_SPACE = tuple(bytes([c]) for c in range(128) if chr(c).isspace() and c not in (10, 32))


@dataclass(frozen=True)
class Trial:
    """One verification trial: does ``test`` have the speaker of ``enroll``?"""

    enroll: str
    test: str
    target: bool


@dataclass
class TrialList:
    """Trials as parallel lists; ``target`` is a bool array or None (unlabelled)."""

    enroll: list[str]
    test: list[str]
    target: Optional[np.ndarray] = None
    path: Optional[str] = None

    def __len__(self) -> int:
        return len(self.enroll)

    def labels(self) -> np.ndarray:
        """The bool labels; raises if the list has none."""
        if self.target is None:
            raise SeedkitError("the trial list has no target/nontarget labels; metrics need "
                               "'<enroll> <test> target|nontarget' lines", self.path)
        return self.target

    def with_path(self, path: Optional[str]) -> "TrialList":
        self.path = path
        return self

    def subset(self, keep: np.ndarray) -> "TrialList":
        """The trials where ``keep`` (bool mask) is true, in order."""
        idx = np.flatnonzero(keep)
        return TrialList([self.enroll[i] for i in idx], [self.test[i] for i in idx],
                         None if self.target is None else self.target[idx], self.path)

    def trials(self) -> list[Trial]:
        """The labelled trials as :class:`Trial` objects."""
        return [Trial(e, t, bool(y)) for e, t, y in zip(self.enroll, self.test, self.labels())]


def as_trial_list(trials) -> TrialList:
    """Accept a :class:`TrialList`, a sequence of :class:`Trial`, or of ``(enroll, test)`` /
    ``(enroll, test, target)`` tuples."""
    if isinstance(trials, TrialList):
        return trials
    enroll, test, target = [], [], []
    labelled = True
    for t in trials:
        if hasattr(t, "enroll"):
            enroll.append(t.enroll)
            test.append(t.test)
            target.append(bool(t.target))
        else:
            enroll.append(t[0])
            test.append(t[1])
            if len(t) > 2:
                target.append(bool(t[2]))
            else:
                labelled = False
    return TrialList(enroll, test, np.array(target, dtype=bool) if labelled else None)


def voxceleb_path_to_key(path: str) -> str:
    """``id10270/x6uYqmx31kE/00001.wav`` -> ``id10270-x6uYqmx31kE-00001``."""
    if path.endswith(".wav"):
        path = path[: -len(".wav")]
    return path.replace("/", "-")


@dataclass(frozen=True)
class LineShape:
    """Where the fields of a single-space trial file are: ``starts[j]`` / ``lens[j]`` are the
    byte offsets and lengths of column ``j`` on every line of ``data`` (which ends in a newline);
    ``form`` is ``"kaldi"``, ``"voxceleb"`` or ``"unlabelled"``."""

    data: bytes
    starts: tuple[np.ndarray, ...]
    lens: tuple[np.ndarray, ...]
    form: str

    def __len__(self) -> int:
        return self.starts[0].size


_TARGET = np.uint64(int.from_bytes(b"target", "little"))
_NONTARGET = np.uint64(int.from_bytes(b"ontarget", "little"))  # the last 8 bytes of 'nontarget'


def _is_label(data: bytes, arr: np.ndarray, nl: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Per line: is the field that ends at newline ``nl`` (``lens`` bytes) a label? Compares the
    8 bytes before each newline as one little-endian word (one gather, not one per byte)."""
    if len(data) < 8:
        return np.zeros(nl.size, dtype=bool)
    tail = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))[
        np.maximum(nl - 8, 0)]  # a label is preceded by 2 fields: a short line's tail is unused
    return (((lens == 6) & ((tail >> np.uint64(16)) == _TARGET))
            | ((lens == 9) & (tail == _NONTARGET) & (arr[nl - 9 * (lens == 9)] == ord("n"))))


def line_shape(data: bytes) -> Optional[LineShape]:
    """The columns of a trial file's bytes whose every line is 2 or 3 non-empty fields joined by
    single spaces, all in one form (a last line without newline counts); None for anything
    else (other spacing, a blank line, mixed forms...), which the checking parser reads."""
    if not data.endswith(b"\n"):
        data += b"\n"
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    sp = np.flatnonzero(arr == 32)
    n = nl.size
    if n == 0 or sp.size not in (n, 2 * n):
        return None
    n_sep = sp.size // n
    start = np.zeros(n, dtype=np.int64)
    start[1:] = nl[:-1] + 1
    seps = [sp[j::n_sep] for j in range(n_sep)]
    # with n_sep * n spaces in all, n_sep inside each line means exactly n_sep per line
    starts = (start, *(s + 1 for s in seps))
    ends = (*seps, nl)
    if not all((e > s).all() for s, e in zip(starts, ends)):  # no empty field
        return None
    lens = tuple(e - s for s, e in zip(starts, ends))
    if n_sep == 1:
        return LineShape(data, starts, lens, "unlabelled")
    is_label = _is_label(data, arr, nl, lens[2])
    if is_label.all():
        return LineShape(data, starts, lens, "kaldi")
    if is_label.any():
        return None
    first = (lens[0] == 1) & ((arr[start] == ord("0")) | (arr[start] == ord("1")))
    return LineShape(data, starts, lens, "voxceleb") if first.all() else None


def _map_keys(enroll: list[str], test: list[str], key_mapping: str
              ) -> tuple[list[str], list[str]]:
    if key_mapping == "kaldi":
        return [voxceleb_path_to_key(k) for k in enroll], [voxceleb_path_to_key(k) for k in test]
    return enroll, test


def _columns(text: str, path: str, key_mapping: str) -> Optional[TrialList]:
    """The trials of a single-space file (see :func:`line_shape`); None for anything else."""
    data = text.encode("utf-8")
    if (any(c in data for c in ASCII_OTHER_SPACE) if text.isascii()
            else _OTHER_SPACE.search(text) is not None):
        return None
    shape = line_shape(data)
    if shape is None:
        return None
    tok = text.split()
    if shape.form == "unlabelled":
        return TrialList(tok[0::2], tok[1::2], None, path)
    if shape.form == "kaldi":
        target = np.fromiter((t == "target" for t in tok[2::3]), dtype=bool, count=len(shape))
        return TrialList(tok[0::3], tok[1::3], target, path)
    target = np.fromiter((t == "1" for t in tok[0::3]), dtype=bool, count=len(shape))
    enroll, test = _map_keys(tok[1::3], tok[2::3], key_mapping)
    return TrialList(enroll, test, target, path)


def _line_form(f: list[str]) -> Optional[str]:
    if len(f) == 2:
        return "unlabelled"
    return "kaldi" if f[2] in LABELS else "voxceleb" if f[0] in ("0", "1") else None


def _checked(text: str, path: str, key_mapping: str, unlabelled_ok: bool) -> TrialList:
    """The checking parser: every line on its own, the first problem raised with file:line."""
    min_fields = 2 if unlabelled_ok else 3
    enroll: list[str] = []
    test: list[str] = []
    target: list[bool] = []
    form = None
    body = text[:-1] if text.endswith("\n") else text
    for n, line in enumerate(body.split("\n"), start=1):
        f = line.rstrip("\r").split()
        if not f:
            raise SeedkitError("empty line; remove it", path, n)
        if form == "unlabelled" and len(f) != 2:
            raise SeedkitError("the file started with unlabelled '<enroll> <test>' lines; this "
                               f"line has {len(f)} fields: {line!r}", path, n)
        if len(f) < min_fields or (form not in (None, "unlabelled") and len(f) < 3):
            raise SeedkitError(f"expected at least 3 fields, got {len(f)}: {line.strip()!r}",
                               path, n)
        if len(f) > 3:
            raise SeedkitError(f"expected at most 3 fields, got {len(f)}: {line.strip()!r}",
                               path, n)
        this = _line_form(f)
        if this is None:
            raise SeedkitError("expected '<enroll> <test> target|nontarget' or "
                               "'<1|0> <enroll.wav> <test.wav>'", path, n)
        if form is None:
            form = this
        elif this != form:
            raise SeedkitError(f"line is in {this} form but the file started in {form} form",
                               path, n)
        if form == "kaldi":
            enroll.append(f[0])
            test.append(f[1])
            target.append(LABELS[f[2]])
        elif form == "voxceleb":
            enroll.append(f[1])
            test.append(f[2])
            target.append(f[0] == "1")
        else:
            enroll.append(f[0])
            test.append(f[1])
    if form == "voxceleb":
        enroll, test = _map_keys(enroll, test, key_mapping)
    labels = None if form == "unlabelled" else np.array(target, dtype=bool)
    return TrialList(enroll, test, labels, path)


def _read(path: PathLike, key_mapping: str, unlabelled_ok: bool) -> TrialList:
    p = Path(path)
    if key_mapping not in KEY_MAPPINGS:
        raise SeedkitError(f"unknown key mapping {key_mapping!r}; use 'kaldi' or 'path'")
    text = read_text(p, "trials file", gzip_ok=True, hint="check the path")
    if not text.strip():
        raise SeedkitError("trials file is empty; it must hold one trial per line", p)
    trials = _columns(text, str(p), key_mapping)
    if trials is None or (trials.target is None and not unlabelled_ok):
        trials = _checked(text, str(p), key_mapping, unlabelled_ok)
    return trials


def read_trial_list(path: PathLike, require_labels: bool = False, key_mapping: str = "kaldi"
                    ) -> TrialList:
    """Read a trial list in any form (see the module docstring) as parallel columns; an empty
    file is an error, and so is an unlabelled one when ``require_labels``."""
    trials = _read(path, key_mapping, unlabelled_ok=True)
    if require_labels:
        trials.labels()
    return trials


def read_trials(path: PathLike, key_mapping: str = "kaldi") -> list[Trial]:
    """Read a labelled trial list (Kaldi or VoxCeleb form) as :class:`Trial` objects.

    ``key_mapping`` applies to the VoxCeleb form only: ``"kaldi"`` (default) maps paths to Kaldi
    ids as described in the module docstring; ``"path"`` keeps them.
    """
    return _read(path, key_mapping, unlabelled_ok=False).trials()


def write_trials(path: PathLike, trials: list[Trial], form: str = "kaldi") -> None:
    """Write trials atomically: ``form="kaldi"`` (``<enroll> <test> target|nontarget``) or
    ``"voxceleb"`` (``<1|0> <enroll> <test>``, keys written as they are)."""
    if form == "kaldi":
        lines = (f"{t.enroll} {t.test} {'target' if t.target else 'nontarget'}" for t in trials)
    elif form == "voxceleb":
        lines = (f"{int(t.target)} {t.enroll} {t.test}" for t in trials)
    else:
        raise SeedkitError(f"unknown trials form {form!r}; use 'kaldi' or 'voxceleb'")
    write_lines(path, lines)
