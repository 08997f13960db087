"""Score files: ``<enroll> <test> <score>`` per line, in trial order; checked against trials."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Union

import numpy as np

from seedkit.data.trials import TrialList
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_output, atomic_text_writer, read_text
from seedkit.scoring.textcols import format_g9, join_lines, key_column

log = logging.getLogger(__name__)

__all__ = ["ScoreList", "align_scores", "read_scores", "write_scores"]

_LINES_PER_WRITE = 1 << 16


class ScoreList:
    """Parallel ``enroll``, ``test`` key lists and a float64 ``scores`` array."""

    def __init__(self, enroll: list[str], test: list[str], scores: np.ndarray, path=None):
        self.enroll, self.test, self.scores, self.path = enroll, test, scores, path

    def __len__(self) -> int:
        return len(self.enroll)


def write_scores(path: PathLike, enroll: Union[list[str], np.ndarray],
                 test: Union[list[str], np.ndarray], scores: np.ndarray) -> None:
    """Write atomically; ``%.9g`` keeps float32 scores exact and float64 to ~1e-9.

    ``enroll`` / ``test``: key lists, or NUL-padded bytes arrays (``S``, from
    :func:`seedkit.scoring.textcols.key_column`), which skip the conversion. Lines are built by
    numpy (:mod:`seedkit.scoring.textcols`) when the keys are plain ASCII, else in Python; the
    bytes are the same."""
    scores = np.asarray(scores)
    if not (len(enroll) == len(test) == scores.shape[0]):
        raise ValueError("enroll, test and scores must have one length")
    ek = enroll if isinstance(enroll, np.ndarray) else key_column(enroll)
    tk = test if isinstance(test, np.ndarray) else key_column(test)
    if ek is not None and tk is not None:
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            for s in range(0, len(ek), _LINES_PER_WRITE):
                e = s + _LINES_PER_WRITE
                f.write(join_lines([ek[s:e], tk[s:e], format_g9(scores[s:e])]))
        return
    enroll = [k.decode() if isinstance(k, bytes) else k for k in enroll]
    test = [k.decode() if isinstance(k, bytes) else k for k in test]
    with atomic_text_writer(path) as f:
        for s in range(0, len(enroll), _LINES_PER_WRITE):
            e = s + _LINES_PER_WRITE
            vals = ["%.9g" % v for v in scores[s:e].tolist()]
            f.write("".join(f"{a} {b} {v}\n" for a, b, v in zip(enroll[s:e], test[s:e], vals)))


def read_scores(path: PathLike) -> ScoreList:
    """Read a score file; empty files, malformed lines and NaN/inf scores are errors."""
    p = Path(path)
    text = read_text(p, "scores file", gzip_ok=True, hint="run seedkit-score first")
    if not text.strip():
        raise SeedkitError("scores file is empty; re-run seedkit-score", p)
    lines = text.splitlines()
    tok = text.split()
    if len(tok) == 3 * len(lines) and all(line.strip() for line in lines):
        enroll, test, raw = tok[0::3], tok[1::3], tok[2::3]
        try:
            scores = np.array(raw, dtype=np.float64)
        except ValueError:
            scores = None
        if scores is not None and np.all(np.isfinite(scores)):
            return ScoreList(enroll, test, scores, str(p))
    # slow path: find the first bad line
    enroll, test, vals = [], [], []
    for n, raw in enumerate(lines, start=1):
        f = raw.split()
        if len(f) != 3:
            raise SeedkitError(f"expected '<enroll> <test> <score>', got {raw!r}", p, n)
        try:
            v = float(f[2])
        except ValueError:
            raise SeedkitError(f"score {f[2]!r} is not a number", p, n) from None
        if not np.isfinite(v):
            raise SeedkitError(f"score is {f[2]}; the scorer produced NaN/inf: check the "
                               "embeddings (zero vectors?) and re-score", p, n)
        enroll.append(f[0])
        test.append(f[1])
        vals.append(v)
    return ScoreList(enroll, test, np.array(vals), str(p))


def align_scores(scores: ScoreList, trials: TrialList, skip_missing: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, labels)`` after checking the score file holds the trials' pairs in order.

    With ``skip_missing`` the score file may omit trials (``seedkit-score --skip-missing``): it
    must then be an in-order subsequence of the trials; the count of unscored trials is logged.
    """
    labels = trials.labels()
    n_s, n_t = len(scores), len(trials)
    if n_s == n_t and scores.enroll == trials.enroll and scores.test == trials.test:
        return scores.scores, labels
    if not skip_missing or n_s > n_t:
        for i in range(min(n_s, n_t)):
            if scores.enroll[i] != trials.enroll[i] or scores.test[i] != trials.test[i]:
                raise SeedkitError(
                    f"pair '{scores.enroll[i]} {scores.test[i]}' does not match trial "
                    f"'{trials.enroll[i]} {trials.test[i]}' ({trials.path}:{i + 1}); score this "
                    "trials file with seedkit-score (same pairs, same order)", scores.path, i + 1)
        skipped = () if n_s > n_t else (", or pass ", Param("skip_missing", True),
                                         " if it was scored with ", Param("skip_missing", True))
        raise OptionError(f"{n_s} scores for {n_t} trials ({trials.path}); score this trials "
                          "file with seedkit-score", *skipped, path=scores.path,
                          line=min(n_s, n_t) + 1)
    keep = np.zeros(n_t, dtype=bool)
    j = 0
    for i in range(n_t):
        if j < n_s and scores.enroll[j] == trials.enroll[i] and scores.test[j] == trials.test[i]:
            keep[i] = True
            j += 1
    if j != n_s:
        raise SeedkitError(f"pair '{scores.enroll[j]} {scores.test[j]}' is not a trial of "
                           f"{trials.path} (or is out of order)", scores.path, j + 1)
    log.warning("%d of %d trials have no score (--skip-missing); metrics use the %d scored ones",
                n_t - n_s, n_t, n_s)
    return scores.scores, labels[keep]
