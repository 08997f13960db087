"""Fast trial lists for scoring: parallel key lists plus a label array (a million lines in ~1 s).

Accepts the same forms as :mod:`seedkit.data.trials` (Kaldi ``<enroll> <test> target|nontarget``,
VoxCeleb ``<1|0> <enroll.wav> <test.wav>`` with the same key mapping) and, for scoring only,
unlabelled ``<enroll> <test>`` lines. Errors name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from seedkit.data.trials import LABELS, read_trials, voxceleb_path_to_key
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import read_text

__all__ = ["TrialList", "as_trial_list", "read_trial_list"]


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


def as_trial_list(trials) -> TrialList:
    """Accept a :class:`TrialList`, a sequence of :class:`seedkit.data.trials.Trial`, or of
    ``(enroll, test)`` / ``(enroll, test, target)`` tuples."""
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


def _fast(text: str, path: str) -> Optional[TrialList]:
    """Column slicing when every line has the same shape; None -> use the checking parser."""
    if not text.endswith("\n"):
        text += "\n"
    n_lines = text.count("\n")
    if "\n\n" in text or text.startswith("\n") or "\r" in text:
        return None
    tok = text.split()
    if len(tok) == 3 * n_lines:
        third = tok[2::3]
        tset = set(third)
        if tset <= set(LABELS):
            target = np.fromiter((t == "target" for t in third), dtype=bool, count=n_lines)
            return TrialList(tok[0::3], tok[1::3], target, path)
        first = tok[0::3]
        if set(first) <= {"0", "1"}:
            target = np.fromiter((t == "1" for t in first), dtype=bool, count=n_lines)
            return TrialList([voxceleb_path_to_key(k) for k in tok[1::3]],
                             [voxceleb_path_to_key(k) for k in tok[2::3]], target, path)
        return None
    if len(tok) == 2 * n_lines:
        enroll, test = tok[0::2], tok[1::2]
        if set(enroll) & {"0", "1"}:  # could be a broken labelled list: check line by line
            return None
        return TrialList(enroll, test, None, path)
    return None


def _slow(text: str, path: str) -> TrialList:
    """Checking parser: labelled lists go through :func:`seedkit.data.trials.read_trials` (errors
    with file:line); unlabelled ``<enroll> <test>`` lists are parsed here."""
    first = text.split("\n", 1)[0].split()
    if len(first) != 2:
        return as_trial_list(read_trials(path)).with_path(path)
    enroll: list[str] = []
    test: list[str] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        f = raw.split()
        if len(f) != 2:
            raise SeedkitError("the file started with unlabelled '<enroll> <test>' lines; this "
                               f"line has {len(f)} fields: {raw!r}", path, n)
        enroll.append(f[0])
        test.append(f[1])
    return TrialList(enroll, test, None, path)


def read_trial_list(path: PathLike, require_labels: bool = False) -> TrialList:
    """Read a trial list (see module docstring); an empty file is an error."""
    p = Path(path)
    text = read_text(p, "trials file", gzip_ok=True, hint="check the path")
    if not text.strip():
        raise SeedkitError("trials file is empty; it must hold one trial per line", p)
    trials = _fast(text, str(p)) or _slow(text, str(p))
    if require_labels:
        trials.labels()
    return trials
