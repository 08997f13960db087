"""Confidence intervals for EER and minDCF by a bootstrap over speakers, and paired comparisons.

**Why speakers, not trials.** The trials of an evaluation list are not independent: every speaker
(and every enrollment model and test segment) takes part in many trials, so a speaker whose
embeddings happen to be poor (or good) moves many scores together. A bootstrap that draws trials
independently ignores this and understates the spread of the EER; the unit to resample is the one
that was sampled when the list was made (Bengio & Mariethoz 2004 and Poh & Bengio's "subset
bootstrap" over client models; Wu, Martin, Greenberg & Kacker (NIST) on the data dependency of
SRE trials, whose one-layer bootstrap resamples sets of dependent target and non-target scores).

**Units** (:class:`Clusters`):

* ``speaker`` (default): every trial belongs to the speaker of its enrollment side ``a`` and of
  its test side ``b`` (from ``utt2spk``). One resample draws the speakers with replacement (each
  speaker ``s`` drawn ``m_s`` times, multinomial, ``sum m_s`` = number of speakers) and keeps every
  trial among the drawn copies: a trial weighs ``m_a * m_b`` when ``a != b`` (every copy of ``a``
  against every copy of ``b``) and ``m_a`` when ``a == b`` (a copy's own target trials). A speaker
  not drawn takes all its trials, as enrollment and as test side, out of the resample.
* ``model-segment``: enrollment models (enrollment keys) and test segments (test keys) are drawn
  independently, a trial weighs ``u_e * v_t``; for lists where models and segments, not
  speakers, are the sampled unit (no speaker labels needed).

**Metrics of a resample** (weights, not copies): the trials are sorted once per system; the
resample's weighted target and non-target counts are summed per threshold bin (every distinct
score when there are at most ``max_bins`` of them, else ``max_bins`` bins of equal trial count:
a threshold then falls on a bin edge, which moves the EER by at most one bin's share of
trials, ``N / max_bins`` of them), and cumulated. ``fnr_k`` = weighted targets at or below
bin ``k`` / all targets, ``fpr_k`` = weighted non-targets above it / all non-targets (and the
point that rejects nothing). EER = ``max(fnr, fpr)`` at the first ``argmin |fnr - fpr|`` over
all those points (the reference rule of :mod:`seedkit.scoring.metrics` keeps only the ROC's
corners, so an unweighted resample can differ from the point estimate by one trial's worth);
minDCF = the minimum normalised cost over them (the reference also looks inside runs of equal
scores; without ties the two are equal). A resample without targets or without non-targets is
dropped and counted.

**Intervals**: percentile intervals of the resampled values at the requested level (e.g. 95:
the 2.5th and 97.5th percentiles, ``numpy.quantile``'s linear rule). **Paired comparison** of two
systems on the same trials: the same resamples (the same speaker draws) for both; the interval of
``A - B`` and the fraction of resamples in which A is lower (better) than B, ties apart.

Cost: per resample, two gathers and one multiply per trial and a sparse sum into bins (blocks
of up to 64 resamples at once, int16 where the sums fit, split over up to 2 threads; see
``benchmarks/bench_bootstrap.py``). Deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.scoring.metrics import check_scores_labels, summarize

__all__ = ["UNITS", "Clusters", "Replicates", "bootstrap_ci", "compare_systems",
           "interval", "model_segment_clusters", "parse_ci_level", "replicates",
           "speaker_clusters", "speaker_from_key"]

UNITS = ("speaker", "model-segment")
DEFAULT_MAX_BINS = 1 << 14
_BLOCK_ELEMENTS = 1 << 26  # trial weights per block of resamples (int16: 128 MiB)


@dataclass
class Clusters:
    """The resampling unit of each trial's enrollment side (``a``) and test side (``b``).

    ``shared``: both sides index one set of ``n_a`` units drawn once per resample (speakers);
    else ``a`` indexes ``n_a`` enrollment units and ``b`` ``n_b`` test units, drawn apart."""

    a: np.ndarray
    b: np.ndarray
    n_a: int
    n_b: int
    shared: bool
    unit: str = "speaker"

    def __len__(self) -> int:
        return int(self.a.size)

    def describe(self) -> str:
        if self.shared:
            return f"{self.n_a} speakers"
        return f"{self.n_a} enrollment models x {self.n_b} test segments"


def speaker_from_key(key: str) -> str:
    """The speaker id in a key that starts with it: the text before the first ``-`` (Kaldi's
    ``<spk>-<utt>`` convention; VoxCeleb paths ``id10270/x6uYqmx31kE/00001.wav`` become keys
    ``id10270-x6uYqmx31kE-00001``, whose speaker is ``id10270``)."""
    return key.split("-", 1)[0]


def speaker_clusters(enroll: Sequence[str], test: Sequence[str],
                     utt2spk: Optional[Mapping[str, str]] = None,
                     where: Optional[PathLike] = None) -> Clusters:
    """Speaker clusters of trials from ``utt2spk`` (key -> speaker), or, when it is None, from
    the keys themselves (:func:`speaker_from_key`). Every key must have a speaker; ``where`` (the
    utt2spk file) is named in the error."""
    if len(enroll) != len(test):
        raise ValueError("enroll and test must have one length")
    if utt2spk is not None:
        missing = [k for k in dict.fromkeys([*enroll, *test]) if k not in utt2spk]
        if missing:
            raise SeedkitError(
                f"{len(missing)} trial key(s) have no speaker here (first: "
                f"{', '.join(missing[:3])}); the bootstrap needs every trial's speakers: give "
                "the eval set's utt2spk (or spk2utt)", where)
    index: dict[str, int] = {}
    sides = []
    for keys in (enroll, test):
        spk = [speaker_from_key(k) if utt2spk is None else utt2spk[k] for k in keys]
        sides.append(np.fromiter((index.setdefault(s, len(index)) for s in spk),
                                 dtype=np.int64, count=len(spk)))
    if len(index) < 2:
        raise SeedkitError(f"the trials hold {len(index)} speaker(s); a bootstrap over speakers "
                           "needs at least 2", where)
    return Clusters(sides[0], sides[1], len(index), len(index), True, "speaker")


def model_segment_clusters(enroll: Sequence[str], test: Sequence[str]) -> Clusters:
    """Enrollment keys and test keys as two independent sets of units."""
    if len(enroll) != len(test):
        raise ValueError("enroll and test must have one length")
    sides, sizes = [], []
    for keys in (enroll, test):
        index: dict[str, int] = {}
        sides.append(np.fromiter((index.setdefault(k, len(index)) for k in keys),
                                 dtype=np.int64, count=len(keys)))
        sizes.append(len(index))
    if min(sizes) < 2:
        raise SeedkitError(f"the trials hold {sizes[0]} enrollment model(s) and {sizes[1]} test "
                           "segment(s); a bootstrap over them needs at least 2 of each")
    return Clusters(sides[0], sides[1], sizes[0], sizes[1], False, "model-segment")


def parse_ci_level(text) -> float:
    """``"95"`` -> 95.0; must lie in (0, 100)."""
    try:
        level = float(text)
    except (TypeError, ValueError):
        raise OptionError(Param("level"), f" {text!r} is not a number; give a level in percent, "
                          "e.g. ", Param("level", 95)) from None
    if not 0.0 < level < 100.0:
        raise OptionError(Param("level"), f" {text!r} is outside (0, 100); give a level in "
                          "percent, e.g. ", Param("level", 95))
    return level


@dataclass
class _Class:
    """One class (targets or non-targets) of one system, in ascending score order: the
    weight-column indices of each trial's two sides and the bin-by-trial summing matrix."""

    col_a: np.ndarray
    col_b: np.ndarray
    bins: object  # scipy.sparse.csr_matrix [n_bins, trials], one 1 per trial: per-bin sums
    largest_bin: int  # most trials in one bin (int16 sums fit when this x the weight fits)

    def counts(self, w: np.ndarray) -> np.ndarray:
        """``[n_bins + 1, n]`` cumulative weighted counts of the resamples ``w`` (row 0: the
        point that rejects nothing)."""
        n_bins = self.bins.shape[0]
        out = np.zeros((n_bins + 1, w.shape[1]), dtype=np.int64)
        if self.col_a.size:
            dtype = np.int16 if int(w.max()) ** 2 * self.largest_bin < 1 << 15 else np.int32
            w = w.astype(dtype, copy=False)
            tw = np.take(w, self.col_a, axis=0)
            tw *= np.take(w, self.col_b, axis=0)
            out[1:] = self.bins.astype(dtype) @ tw
        return np.cumsum(out, axis=0)


@dataclass
class _System:
    tar: _Class
    non: _Class


def _bin_edges(sorted_scores: np.ndarray, max_bins: int) -> np.ndarray:
    """Upper edges of the threshold bins: every distinct score, or ``max_bins`` quantiles."""
    uniq = np.unique(sorted_scores)
    if uniq.size <= max_bins:
        return uniq
    n = sorted_scores.size
    ranks = np.ceil(np.arange(1, max_bins + 1) * (n / max_bins)).astype(np.int64) - 1
    return np.unique(sorted_scores[np.minimum(ranks, n - 1)])


def _class(sorted_class: np.ndarray, col_a: np.ndarray, col_b: np.ndarray, edges: np.ndarray
           ) -> _Class:
    # imported here: scipy.sparse adds 0.2-0.7 s to every seedkit-metrics start (this module is
    # imported by seedkit.scoring.report), which only --ci needs (as rir.py's scipy.signal)
    from scipy import sparse

    bins = np.searchsorted(edges, sorted_class, side="left")  # first edge >= score
    per_bin = np.bincount(bins, minlength=edges.size)
    indptr = np.r_[0, np.cumsum(per_bin)]
    n = sorted_class.size
    mat = sparse.csr_matrix((np.ones(n, dtype=np.int32), np.arange(n, dtype=np.int32), indptr),
                            shape=(edges.size, n))
    return _Class(col_a, col_b, mat, int(per_bin.max()) if n else 0)


def _prepare(scores: np.ndarray, labels: np.ndarray, col_a: np.ndarray, col_b: np.ndarray,
             max_bins: int) -> _System:
    order = np.argsort(scores, kind="stable")
    s, lab = scores[order], labels[order]
    ca, cb = col_a[order], col_b[order]
    edges = _bin_edges(s, max_bins)
    return _System(_class(s[lab], ca[lab], cb[lab], edges),
                   _class(s[~lab], ca[~lab], cb[~lab], edges))


def _columns(clusters: Clusters) -> tuple[np.ndarray, np.ndarray, int]:
    """Indices into one row of weights ``[draws of a-units, draws of b-units (if apart), 1]``:
    a trial's weight is the product of its two columns; speaker trials with ``a == b`` take the
    constant 1 as second factor (weight ``m_a``)."""
    a = np.asarray(clusters.a, dtype=np.intp)
    b = np.asarray(clusters.b, dtype=np.intp)
    if clusters.shared:
        one = clusters.n_a
        return a, np.where(a == b, one, b), one + 1
    one = clusters.n_a + clusters.n_b
    return a, b + clusters.n_a, one + 1


def _draw_block(rngs: Sequence[np.random.Generator], clusters: Clusters, n: int) -> np.ndarray:
    """``[n_units + 1, n]`` int32 weights: each column one resample's unit counts, then 1.
    ``rngs``: one stream per side (the a-side's alone when the sides share their units), so the
    draws do not depend on how the resamples are split into blocks."""
    parts = [rngs[0].multinomial(clusters.n_a, np.full(clusters.n_a, 1.0 / clusters.n_a),
                                 size=n)]
    if not clusters.shared:
        parts.append(rngs[1].multinomial(clusters.n_b, np.full(clusters.n_b, 1.0 / clusters.n_b),
                                         size=n))
    parts.append(np.ones((n, 1), dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(parts, axis=1).T.astype(np.int32))


def _block_metrics(sys: _System, w: np.ndarray, p_targets: Sequence[float], c_miss: float,
                   c_fa: float) -> tuple[np.ndarray, np.ndarray]:
    """EER (percent) and minDCF per p-target (``[len(p), n]``) of the resamples in ``w``."""
    ct = sys.tar.counts(w)  # [points, n]
    cn = sys.non.counts(w)
    n_tar, n_non = ct[-1], cn[-1]
    bad = (n_tar == 0) | (n_non == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fnr = ct / n_tar.astype(np.float64)
        fpr = 1.0 - cn / n_non.astype(np.float64)
    # fnr - fpr rises from -1 to 1 along the points: the first minimum of |fnr - fpr| is at the
    # last point below 0 or the first at or above it (equal points only repeat a point)
    d = fnr - fpr
    k = np.minimum((d < 0).sum(axis=0), d.shape[0] - 1)
    cols = np.arange(k.size)
    lo = np.maximum(k - 1, 0)
    take_lo = np.abs(d[lo, cols]) <= np.abs(d[k, cols])
    i = np.where(take_lo, lo, k)
    eer = np.maximum(fnr[i, cols], fpr[i, cols]) * 100.0
    dcf = np.empty((len(p_targets), k.size))
    for j, p in enumerate(p_targets):
        c_def = min(c_miss * p, c_fa * (1 - p))
        dcf[j] = np.min(c_miss * p * fnr + c_fa * (1 - p) * fpr, axis=0) / c_def
    eer[bad] = np.nan
    dcf[:, bad] = np.nan
    return eer, dcf


@dataclass
class Replicates:
    """The resampled EER (percent) and minDCF values of one system (NaN: a resample without
    targets or without non-targets)."""

    eer: np.ndarray
    min_dcf: dict[float, np.ndarray] = field(default_factory=dict)

    @property
    def num_invalid(self) -> int:
        return int(np.isnan(self.eer).sum())


def _threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS")
    n = os.cpu_count() or 1
    if env and env.isdigit() and int(env) > 0:
        n = min(n, int(env))
    return max(1, min(2, n))


def replicates(systems: Sequence, labels, clusters: Clusters, p_targets: Sequence[float] = (
        0.01, 0.05), n: int = 1000, seed: int = 0, c_miss: float = 1.0, c_fa: float = 1.0,
        max_bins: int = DEFAULT_MAX_BINS, threads: Optional[int] = None) -> list[Replicates]:
    """Resampled metrics of one or more systems scored on the same trials (``systems``: score
    arrays in trial order), all with the same ``n`` resamples of ``clusters`` drawn from
    the streams of ``numpy.random.SeedSequence(seed).spawn(2)`` (one per side). ``threads``:
    blocks of resamples computed at once (default: 2, or fewer CPUs / ``OMP_NUM_THREADS``); the
    result does not depend on it."""
    if n < 1:
        raise SeedkitError(f"the number of bootstrap resamples must be >= 1, got {n}")
    lab = None
    prepared = []
    col_a, col_b, n_cols = _columns(clusters)
    for scores in systems:
        s, lab_s = check_scores_labels(scores, labels)
        if s.size != len(clusters):
            raise ValueError(f"{s.size} scores but {len(clusters)} clustered trials")
        lab = lab_s
        prepared.append(_prepare(s, lab_s, col_a, col_b, max_bins))
    assert lab is not None, "no systems"
    block = max(1, min(64, _BLOCK_ELEMENTS // max(1, lab.size)))
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
    draws = []
    done = 0
    while done < n:  # drawn in order: the same seed gives the same resamples for any threads
        k = min(block, n - done)
        draws.append(_draw_block(rngs, clusters, k))
        done += k

    def work(w):
        return [_block_metrics(sys, w, p_targets, c_miss, c_fa) for sys in prepared]

    threads = threads or _threads()
    if threads > 1 and len(draws) > 1:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(work, draws))
    else:
        results = [work(w) for w in draws]
    out = []
    for j in range(len(prepared)):
        eer = np.concatenate([r[j][0] for r in results])
        dcf = np.concatenate([r[j][1] for r in results], axis=1)
        out.append(Replicates(eer, {float(p): dcf[k] for k, p in enumerate(p_targets)}))
    return out


def interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the finite ``values`` at ``level`` percent."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return math.nan, math.nan
    tail = (100.0 - level) / 200.0
    lo, hi = np.quantile(v, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _p_key(p: float) -> str:
    return f"{p:g}"


def _ci_json(rep: Replicates, level: float, n: int, seed: int, clusters: Clusters) -> dict:
    return {"level": float(level), "resamples": int(n), "seed": int(seed), "unit": clusters.unit,
            "units": clusters.describe(), "invalid_resamples": rep.num_invalid,
            "eer_percent": list(interval(rep.eer, level)),
            "min_dcf": {_p_key(p): list(interval(v, level)) for p, v in rep.min_dcf.items()}}


def bootstrap_ci(scores, labels, clusters: Clusters, p_targets: Sequence[float] = (0.01, 0.05),
                 level: float = 95.0, n: int = 1000, seed: int = 0,
                 max_bins: int = DEFAULT_MAX_BINS) -> dict:
    """Percentile intervals of EER (percent) and minDCF per p-target (JSON-ready)::

        {"level": 95.0, "resamples": 1000, "seed": 0, "unit": "speaker", "units": "40 speakers",
         "invalid_resamples": 0, "eer_percent": [lo, hi], "min_dcf": {"0.01": [lo, hi], ...}}
    """
    level = parse_ci_level(level)
    (rep,) = replicates([scores], labels, clusters, p_targets, n, seed, max_bins=max_bins)
    return _ci_json(rep, level, n, seed, clusters)


def _paired(a: np.ndarray, b: np.ndarray, point: float, level: float) -> dict:
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    m = max(1, d.size)
    return {"difference": float(point), "interval": list(interval(d, level)),
            "a_better": float((d < 0).sum() / m), "ties": float((d == 0).sum() / m)}


def compare_systems(scores_a, scores_b, labels, clusters: Clusters,
                    p_targets: Sequence[float] = (0.01, 0.05), level: float = 95.0,
                    n: int = 1000, seed: int = 0, max_bins: int = DEFAULT_MAX_BINS,
                    point_a: Optional[dict] = None, point_b: Optional[dict] = None) -> dict:
    """Paired bootstrap of two systems on the same trials (JSON-ready)::

        {"level", "resamples", "seed", "unit", "units", "invalid_resamples",
         "a": {ci of A}, "b": {ci of B},
         "eer_percent": {"difference": A - B, "interval": [lo, hi], "a_better": f, "ties": f},
         "min_dcf": {"0.01": {...}, ...}}

    ``difference`` is the difference of the point estimates (``point_a`` / ``point_b``:
    :func:`seedkit.scoring.metrics.summarize` results, computed when not given); ``a_better`` is
    the fraction of valid resamples in which A's value is lower than B's."""
    level = parse_ci_level(level)
    ra, rb = replicates([scores_a, scores_b], labels, clusters, p_targets, n, seed,
                        max_bins=max_bins)
    pa = point_a or summarize(scores_a, labels, p_targets)
    pb = point_b or summarize(scores_b, labels, p_targets)
    out = {"level": float(level), "resamples": int(n), "seed": int(seed), "unit": clusters.unit,
           "units": clusters.describe(),
           "invalid_resamples": int((np.isnan(ra.eer) | np.isnan(rb.eer)).sum()),
           "a": _ci_json(ra, level, n, seed, clusters), "b": _ci_json(rb, level, n, seed, clusters),
           "eer_percent": _paired(ra.eer, rb.eer, pa["eer_percent"] - pb["eer_percent"], level),
           "min_dcf": {}}
    for p in ra.min_dcf:
        k = _p_key(p)
        out["min_dcf"][k] = _paired(ra.min_dcf[p], rb.min_dcf[p],
                                    pa["min_dcf"][k]["value"] - pb["min_dcf"][k]["value"], level)
    return out
