"""Verification metrics: EER and minDCF with the exact rules of the SEED / voxceleb_trainer code.

**EER** (``tuneThresholdfromScore``): the ROC curve of ``sklearn.metrics.roc_curve(labels, scores)``
with its default ``drop_intermediate=True``, reimplemented in numpy (sklearn is not needed):

1. sort the scores descending; keep the last index of every run of equal scores (one ROC point per
   distinct threshold), with cumulative target (tp) and non-target (fp) counts there;
2. drop the points that are collinear with both neighbours (``diff(fp, 2) == 0 and
   diff(tp, 2) == 0``), keeping the first and last;
3. prepend the point (0, 0) (threshold +inf); fpr = fp / N_non, fnr = 1 - tp / N_tar;
4. ``idx = argmin |fnr - fpr|`` (first minimum); **EER = max(fpr[idx], fnr[idx]) * 100** (percent).

**minDCF** (``ComputeErrorRates`` + ``ComputeMinDcf``): a *stable* ascending sort of the trials;
at every position i (not per unique threshold),
``fnr_i = #targets among the first i+1 / N_tar``, ``fpr_i = 1 - #non-targets among the first i+1 /
N_non``; ``minDCF = min_i (c_miss*fnr_i*p + c_fa*fpr_i*(1-p)) / min(c_miss*p, c_fa*(1-p))``.

Both reproduce ``tests/data/reference/metrics.json`` exactly (ties included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from seedkit.errors import SeedkitError

__all__ = ["check_scores_labels", "compute_eer", "compute_min_dcf", "det_curve", "eer_point",
           "min_dcf_point", "summarize",
           "roc_points"]


def check_scores_labels(scores, labels, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to ``(float64 scores, bool labels)``.

    Raises :class:`SeedkitError` for empty input, different lengths, non-finite scores, or a
    single class (EER and minDCF need both targets and non-targets).
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    lab = np.asarray(labels)
    if lab.dtype != bool:
        lab = lab.astype(np.float64)
        if not np.all((lab == 0) | (lab == 1)):
            raise SeedkitError("labels must be 0/1 (or booleans)", where)
        lab = lab.astype(bool)
    lab = lab.reshape(-1)
    if s.size == 0:
        raise SeedkitError("no scores: the trial list is empty", where)
    if s.size != lab.size:
        raise SeedkitError(f"{s.size} scores but {lab.size} labels", where)
    bad = ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SeedkitError(f"{int(bad.sum())} score(s) are NaN or infinite (first at trial "
                           f"{i + 1}: {s[i]}); fix the scorer or the embeddings", where)
    n_tar = int(lab.sum())
    if n_tar == 0 or n_tar == lab.size:
        kind = "target" if n_tar else "nontarget"
        raise SeedkitError(f"all {lab.size} trials are {kind}: EER and minDCF need both target "
                           "and nontarget trials; use a complete trial list", where)
    return s, lab


def _float32_sort_keys(s: np.ndarray) -> np.ndarray | None:
    """``uint64`` keys ``(order-preserving bits of the float32 score) << 32 | index`` when every
    score is a float32 value (scores of float32 embeddings, ``%.9g`` score files) and there are
    fewer than 2**32 of them; None otherwise."""
    if s.size >= 1 << 32:
        return None
    f = s.astype(np.float32)
    if not np.array_equal(f, s):
        return None
    bits = (f + np.float32(0.0)).view(np.uint32)  # + 0.0 turns -0.0 into +0.0 (equal scores)
    neg = bits >> np.uint32(31) == 1
    ordered = np.where(neg, ~bits, bits | np.uint32(0x8000_0000)).astype(np.uint64)
    return (ordered << np.uint64(32)) | np.arange(s.size, dtype=np.uint64)


def stable_argsort(s: np.ndarray) -> np.ndarray:
    """``np.argsort(s, kind="stable")``, faster. float32-valued scores: one sort of integer keys
    that carry the index in their low bits (numpy's vectorised value sort, no argsort). Others:
    numpy's quicksort, then the runs of equal scores put back in index order with one integer
    sort of the tied positions only (the stable merge sort when most scores are tied)."""
    keys = _float32_sort_keys(s)
    if keys is not None:
        return (np.sort(keys) & np.uint64(0xFFFF_FFFF)).astype(np.intp)
    order = np.argsort(s)
    ss = s[order]
    tied = np.flatnonzero(ss[1:] == ss[:-1])
    if tied.size > s.size // 8:  # mostly ties (rounded scores): the merge sort is faster
        return np.argsort(s, kind="stable")
    if tied.size:
        member = np.zeros(s.size, dtype=bool)
        member[tied] = True
        member[tied + 1] = True
        pos = np.flatnonzero(member)
        # run number of each tied position (runs are contiguous, in ascending order)
        run = np.cumsum(np.r_[True, ss[pos[1:]] != ss[pos[:-1]]]) - 1
        n = np.int64(s.size)
        order[pos] = np.sort(run.astype(np.int64) * n + order[pos]) % n
    return order


@dataclass
class SortedTrials:
    """The trials in one *stable* ascending sort of the scores: every metric reads this one sort
    (sorting dominates the cost of the metrics; EER and minDCF used to sort twice)."""

    scores: np.ndarray  # ascending
    labels: np.ndarray  # int64 0/1 in the same order

    @cached_property
    def cum_targets(self) -> np.ndarray:
        """Targets among the first i+1 trials (int64)."""
        return np.cumsum(self.labels)

    @classmethod
    def of(cls, scores, labels) -> "SortedTrials":
        s, lab = check_scores_labels(scores, labels)
        raw = np.asarray(scores)
        return cls(*_sort_by_class(s, lab, raw.reshape(-1) if raw.dtype == np.float32 else None))


def _sort_by_class(s: np.ndarray, lab: np.ndarray, s32: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Scores and int64 labels in the order of a stable ascending sort of ``s``, without
    sorting indices.

    Targets and non-targets are value-sorted apart (as float32 when every score is a float32
    value: half the memory traffic; ``s32`` is that float32 array when the caller has it) and
    merged. Where no target score equals a non-target score this is exactly the stable sort
    (equal scores of one class carry one label). Runs of equal scores holding both classes
    (frequent with float32 cosines) are then put in trial order: only their members are found
    and ordered (:func:`_order_mixed_ties`). When most trials are in such runs (rounded
    scores), one stable index sort is cheaper.
    """
    key = s32
    if key is None:
        f = s.astype(np.float32)
        key = f if np.array_equal(f, s) else s
    tar = np.sort(key[lab])
    non = np.sort(key[~lab])
    at = np.searchsorted(non, tar) + np.arange(tar.size)  # merged position of each target
    labels = np.zeros(s.size, dtype=np.int64)
    labels[at] = 1
    scores = np.empty(s.size, dtype=np.float64)
    scores[at] = tar
    scores[labels == 0] = non
    # a target equal to a non-target sits beside it (after it: searchsorted's left side)
    mixed = (scores[1:] == scores[:-1]) & (labels[1:] != labels[:-1])
    if mixed.any() and not _order_mixed_ties(s, key, lab, scores, labels, mixed):
        order = stable_argsort(s)
        return s[order], lab[order].astype(np.int64)
    return scores, labels


_TIE_HASH_BITS = 16


def _value_hash(v: np.ndarray) -> np.ndarray:
    """A 16-bit hash of float32 or float64 values (equal values, -0.0 and 0.0 included, hash
    alike)."""
    if v.dtype == np.float32:
        bits32 = (v + np.float32(0.0)).view(np.uint32)  # + 0.0 turns -0.0 into +0.0
        return (bits32 ^ (bits32 >> np.uint32(16))) & np.uint32((1 << _TIE_HASH_BITS) - 1)
    bits = (v + 0.0).view(np.uint64)
    return ((bits >> np.uint64(29)) ^ (bits >> np.uint64(45)) ^ bits) & np.uint64(
        (1 << _TIE_HASH_BITS) - 1)


def _order_mixed_ties(s: np.ndarray, key: np.ndarray, lab: np.ndarray, scores: np.ndarray,
                      labels: np.ndarray, mixed: np.ndarray) -> bool:
    """Relabel, in place, the runs of equal ``scores`` that hold both classes so that their
    labels follow trial order (as in a stable sort). The members of those runs are found by a
    hash of their value (``key``: the scores as sorted, float32 or float64; a 64 KiB table
    look-up per trial) and an exact check of the few candidates. False (nothing changed) when
    they are more than an eighth of the trials."""
    values = np.unique(scores[1:][mixed])
    table = np.zeros(1 << _TIE_HASH_BITS, dtype=bool)
    table[_value_hash(values.astype(key.dtype))] = True
    cand = np.flatnonzero(table[_value_hash(key)])
    if cand.size > s.size // 8:
        return False
    members = cand[np.isin(s[cand], values)]
    in_order = members[np.lexsort((members, s[members]))]  # by value, then trial index
    lo = np.searchsorted(scores, values, side="left")
    hi = np.searchsorted(scores, values, side="right")
    pos = np.repeat(lo - np.r_[0, np.cumsum(hi - lo)[:-1]], hi - lo) + np.arange(in_order.size)
    labels[pos] = lab[in_order]
    return True


def _roc_from_sorted(st: SortedTrials) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # sklearn walks the scores in descending order and keeps the last position of each run of
    # equal scores: the trials at or above that score. In the ascending sort those are the trials
    # from the run's first position on, so the order inside a run does not matter.
    # Everything is computed lowest score first (forward memory access) and reversed at the end;
    # dropping the collinear points is symmetric, so its result does not depend on the direction.
    s = st.scores
    n = s.size
    cum = st.cum_targets
    later = np.flatnonzero(s[1:] != s[:-1])  # position before each run start but the first
    starts = np.empty(later.size + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = later + 1
    below = np.empty_like(starts)  # targets under each run
    below[0] = 0
    below[1:] = cum[later]
    tps = cum[-1] - below
    fps = (n - starts) - tps
    thresholds = s[starts]
    if tps.size > 2:
        dfp = fps[1:] - fps[:-1]
        dtp = tps[1:] - tps[:-1]
        inner = (dfp[1:] != dfp[:-1]) | (dtp[1:] != dtp[:-1])
        keep = np.flatnonzero(np.concatenate(([True], inner, [True])))
        tps, fps, thresholds = tps[keep], fps[keep], thresholds[keep]
    tps, fps, thresholds = tps[::-1], fps[::-1], thresholds[::-1]
    tps = np.r_[0, tps]
    fps = np.r_[0, fps]
    thresholds = np.r_[np.inf, thresholds]
    return fps / fps[-1], tps / tps[-1], thresholds


def roc_points(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` exactly as ``sklearn.metrics.roc_curve(labels, scores)``
    (``drop_intermediate=True``, first threshold ``inf``)."""
    return _roc_from_sorted(SortedTrials.of(scores, labels))


def eer_point(scores, labels) -> tuple[float, float, float, float]:
    """``(eer_percent, fpr, fnr, threshold)`` at the voxceleb_trainer EER point."""
    return _eer_from_sorted(SortedTrials.of(scores, labels))


def _eer_from_sorted(st: SortedTrials) -> tuple[float, float, float, float]:
    fpr, tpr, thr = _roc_from_sorted(st)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float(max(fpr[i], fnr[i]) * 100), float(fpr[i]), float(fnr[i]), float(thr[i])


def compute_eer(scores, labels) -> float:
    """Equal error rate in percent (sklearn ROC with dropped intermediate points; see module)."""
    return float(eer_point(scores, labels)[0])


def _error_rates(st: SortedTrials, candidates: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fnr, fpr, threshold)`` at every position of the sort, or with ``candidates`` only
    where the minimum cost can be (for positive costs): the first position, the last, and each
    last non-target before a target. Along a run of non-targets the cost strictly falls (fpr
    drops, fnr stays), along a run of targets it strictly rises, so every other position costs
    more than one of these; the values at these positions are computed exactly as at all."""
    y = st.labels
    cum = st.cum_targets
    n_tar = int(cum[-1])
    n_non = y.size - n_tar
    if candidates:
        pos = np.r_[0, np.flatnonzero((y[:-1] == 0) & (y[1:] == 1)), y.size - 1]
    else:
        pos = np.arange(y.size)
    tar = cum[pos]
    fnrs = tar / float(n_tar)
    # non-targets among the first i+1 = (i+1) - targets among them (exact integers)
    fprs = 1 - ((pos + 1) - tar) / float(n_non)
    return fnrs, fprs, st.scores[pos]


def _min_dcf_from_rates(fnrs: np.ndarray, fprs: np.ndarray, thr: np.ndarray, p_target: float,
                        c_miss: float, c_fa: float) -> tuple[float, float]:
    if not 0.0 < p_target < 1.0:
        raise SeedkitError(f"p_target must be in (0, 1), got {p_target}")
    c_det = c_miss * fnrs * p_target + c_fa * fprs * (1 - p_target)
    i = int(np.argmin(c_det))  # first minimum, as the original's strict '<'
    c_def = min(c_miss * p_target, c_fa * (1 - p_target))
    return float(c_det[i] / c_def), float(thr[i])


def min_dcf_point(scores, labels, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0
                  ) -> tuple[float, float]:
    """``(minDCF, threshold)``; the threshold is the score at the minimising position."""
    if not 0.0 < p_target < 1.0:
        raise SeedkitError(f"p_target must be in (0, 1), got {p_target}")
    rates = _error_rates(SortedTrials.of(scores, labels), candidates=c_miss > 0 and c_fa > 0)
    return _min_dcf_from_rates(*rates, p_target, c_miss, c_fa)


def compute_min_dcf(scores, labels, p_target: float, c_miss: float = 1.0,
                    c_fa: float = 1.0) -> float:
    """Normalised minimum detection cost (every position of a stable sort; see module)."""
    return min_dcf_point(scores, labels, p_target, c_miss, c_fa)[0]


def det_curve(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, fnr)`` at every distinct threshold (for DET plots), from the full ROC."""
    s, lab = check_scores_labels(scores, labels)
    order = np.argsort(s, kind="mergesort")[::-1]
    s = s[order]
    y = lab[order].astype(np.int64)
    idx = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.r_[0, np.cumsum(y)[idx]]
    fps = np.r_[0, (1 + idx) - np.cumsum(y)[idx]]
    return fps / fps[-1], 1 - tps / tps[-1]


def summarize(scores, labels, p_targets: Sequence[float] = (0.01, 0.05)) -> dict:
    """EER, minDCF per p_target and counts as a JSON-ready dict."""
    st = SortedTrials.of(scores, labels)  # one sort serves the EER and every minDCF
    eer, fpr, fnr, thr = _eer_from_sorted(st)
    n_tar = int(st.labels.sum())
    out = {
        "num_trials": int(st.scores.size),
        "num_target": n_tar,
        "num_nontarget": int(st.scores.size - n_tar),
        "eer_percent": float(eer),
        "eer_threshold": thr,
        "eer_fpr": fpr,
        "eer_fnr": fnr,
        "min_dcf": {},
    }
    rates = _error_rates(st)
    for p in p_targets:
        value, t = _min_dcf_from_rates(*rates, p, 1.0, 1.0)
        out["min_dcf"][_p_key(p)] = {"p_target": float(p), "c_miss": 1.0, "c_fa": 1.0,
                                      "value": value, "threshold": t}
    return out


def _p_key(p: float) -> str:
    return f"{p:g}"
