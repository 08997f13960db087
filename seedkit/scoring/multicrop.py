"""Multi-crop scoring (one ``[n_crops, D]`` matrix per utterance), the SEED / voxceleb_trainer
protocol.

``seed``: L2-normalise every crop row, then
``score(E, T) = -mean_{i,j} ||e_i - t_j||_2`` over the ``n_e x n_t`` crop pairs
(``-mean(torch.cdist(normalize(E), normalize(T)))``). Distances come from a float32 Gram matrix,
``||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b`` with the norms in float64; pairs with
``||a - b||^2 < 0.01`` (where that form loses precision) are recomputed from the difference in
float64, so every distance is accurate to ~1e-6 absolute.

``seed-cosine``: mean cosine over crop pairs, ``mean_{i,j} e_i.t_j = (mean_i e_i).(mean_j t_j)``
for unit rows, so it is one dot product per trial.

Only the entries that the trials use are normalised (an archive may hold many more keys).
Vectors are accepted as one-crop matrices. Utterances may have different crop counts: trials are
grouped by ``(n_e, n_t)`` and each group is scored in bounded chunks.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from seedkit.scoring.index import (
    DEFAULT_CHUNK,
    EmbeddingSet,
    Table,
    check_same_dim,
    l2_normalize,
    pair_dot,
    resolve_tables,
    used_only,
)

__all__ = ["seed_pairs", "seed_scores", "mean_cosine_pairs", "mean_cosine_scores"]


_REFINE_D2 = 1e-2  # squared distances below this are recomputed exactly in float64
_ROWS_PER_GEMM = 1 << 16
_MIN_GROUP = 10  # trials per key from which one GEMM per key beats batched small GEMMs


class _FlatCrops:
    """All unit-norm crop rows of one side in one ``[rows, D]`` float32 matrix.

    ``off[k]:off[k] + cnt[k]`` are the rows of key ``k``; ``sq`` holds their squared norms
    (float64), so ``||a - b||^2 = sq_a + sq_b - 2 a.b`` needs only the float32 Gram matrix.
    """

    def __init__(self, emb: EmbeddingSet, mean: Optional[np.ndarray]):
        m32 = None if mean is None else mean.astype(np.float32)
        if emb.vectors is not None:
            rows = emb.vectors if m32 is None else emb.vectors - m32
            self.cnt = np.ones(rows.shape[0], dtype=np.int64)
        else:
            rows = np.concatenate(emb.crops)
            if m32 is not None:
                rows = rows - m32
            self.cnt = np.array([c.shape[0] for c in emb.crops], dtype=np.int64)
        self.rows = l2_normalize(rows).astype(np.float32, copy=False)
        self.off = np.r_[0, np.cumsum(self.cnt)[:-1]].astype(np.int64)
        self.sq = np.einsum("ij,ij->i", self.rows, self.rows, dtype=np.float64)

    def row_index(self, keys: np.ndarray) -> np.ndarray:
        """Concatenated row numbers of ``keys`` (in order)."""
        lens = self.cnt[keys]
        total = int(lens.sum())
        starts = np.repeat(self.off[keys] - np.r_[0, np.cumsum(lens)[:-1]], lens)
        return starts + np.arange(total)


def _distances(a: _FlatCrops, ra: np.ndarray, b: _FlatCrops, rb: np.ndarray,
               gram: np.ndarray) -> np.ndarray:
    """Euclidean distances from a float32 Gram block ``gram[i, j] = b.rows[rb[i]] .
    a.rows[ra[j]]``; pairs closer than ``sqrt(_REFINE_D2)`` are recomputed in float64."""
    d2 = b.sq[rb][:, None] + a.sq[ra][None, :] - 2.0 * gram.astype(np.float64)
    close = np.nonzero(d2 < _REFINE_D2)
    if close[0].size:
        diff = (b.rows[rb[close[0]]].astype(np.float64)
                - a.rows[ra[close[1]]].astype(np.float64))
        d2[close] = np.einsum("ij,ij->i", diff, diff)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def _seed_grouped(a: _FlatCrops, b: _FlatCrops, ei: np.ndarray, ti: np.ndarray,
                  out: np.ndarray) -> None:
    """One GEMM per key of side ``a`` against the crops of all its partners in ``b``."""
    order = np.argsort(ei, kind="stable")
    es = ei[order]
    cuts = np.r_[0, np.flatnonzero(np.diff(es)) + 1, es.size]
    for g0, g1 in zip(cuts[:-1], cuts[1:]):
        k = es[g0]
        ra = np.arange(a.off[k], a.off[k] + a.cnt[k])
        ea = a.rows[ra]
        pos = order[g0:g1]
        step = max(1, _ROWS_PER_GEMM // max(1, int(b.cnt[ti[pos]].max())))
        for s0 in range(0, pos.size, step):
            p = pos[s0:s0 + step]
            partners = ti[p]
            rb = b.row_index(partners)
            dist = _distances(a, ra, b, rb, b.rows[rb] @ ea.T).sum(axis=1)
            lens = b.cnt[partners]
            seg = np.r_[0, np.cumsum(lens)[:-1]]
            out[p] = -np.add.reduceat(dist, seg) / (lens * ra.size)


def _seed_batched(a: _FlatCrops, b: _FlatCrops, ei: np.ndarray, ti: np.ndarray,
                  out: np.ndarray, chunk: int) -> None:
    """Batched small GEMMs for trial lists where keys rarely repeat (same crop count groups)."""
    code = a.cnt[ei] * (int(b.cnt.max()) + 1) + b.cnt[ti]
    for c in np.unique(code):
        sel = np.flatnonzero(code == c)
        na, nb = int(a.cnt[ei[sel[0]]]), int(b.cnt[ti[sel[0]]])
        step = max(1, chunk // max(na, nb))
        ar_a, ar_b = np.arange(na), np.arange(nb)
        for s0 in range(0, sel.size, step):
            idx = sel[s0:s0 + step]
            ra = a.off[ei[idx]][:, None] + ar_a   # [B, na]
            rb = b.off[ti[idx]][:, None] + ar_b   # [B, nb]
            g = np.matmul(a.rows[ra], b.rows[rb].transpose(0, 2, 1)).astype(np.float64)
            d2 = a.sq[ra][:, :, None] + b.sq[rb][:, None, :] - 2.0 * g
            close = np.nonzero(d2 < _REFINE_D2)
            if close[0].size:
                ia = ra[close[0], close[1]]
                ib = rb[close[0], close[2]]
                diff = a.rows[ia].astype(np.float64) - b.rows[ib].astype(np.float64)
                d2[close] = np.einsum("ij,ij->i", diff, diff)
            np.maximum(d2, 0.0, out=d2)
            out[idx] = -np.sqrt(d2).mean(axis=(1, 2))


def seed_pairs(enroll: EmbeddingSet, test: EmbeddingSet, ei: np.ndarray, ti: np.ndarray,
               mean: Optional[np.ndarray] = None, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """SEED scores (``-mean`` crop-pair Euclidean distance) for resolved row pairs.

    The score is symmetric, so trials are grouped by the side with fewer distinct keys: one GEMM
    per key against all its partners' crops. When keys rarely repeat (fewer than
    ``_MIN_GROUP`` trials per key, as in most real lists), batched small GEMMs are used instead
    (measured crossover: about 10 trials per key).
    """
    check_same_dim(enroll, test)
    enroll, test, ei, ti = used_only(enroll, test, ei, ti)  # normalise only the keys used
    a = _FlatCrops(enroll, mean)
    b = a if test is enroll else _FlatCrops(test, mean)
    out = np.empty(ei.shape[0], dtype=np.float64)
    if ei.size == 0:
        return out
    n_e, n_t = np.unique(ei).size, np.unique(ti).size
    if min(n_e, n_t) * _MIN_GROUP > ei.size:
        _seed_batched(a, b, ei, ti, out, chunk)
    elif n_e <= n_t:
        _seed_grouped(a, b, ei, ti, out)
    else:
        _seed_grouped(b, a, ti, ei, out)
    return out


def _crop_means(emb: EmbeddingSet, mean: Optional[np.ndarray]) -> np.ndarray:
    m32 = None if mean is None else mean.astype(np.float32)
    if emb.vectors is not None:
        x = emb.vectors if m32 is None else emb.vectors - m32
        return l2_normalize(x).astype(np.float32, copy=False)
    rows = []
    for c in emb.crops:
        x = c if m32 is None else c - m32
        rows.append(l2_normalize(x).mean(axis=0))
    return np.stack(rows).astype(np.float32, copy=False)


def mean_cosine_pairs(enroll: EmbeddingSet, test: EmbeddingSet, ei: np.ndarray, ti: np.ndarray,
                      mean: Optional[np.ndarray] = None, chunk: int = DEFAULT_CHUNK
                      ) -> np.ndarray:
    """Mean cosine over all crop pairs for resolved row pairs."""
    check_same_dim(enroll, test)
    enroll, test, ei, ti = used_only(enroll, test, ei, ti)
    a = _crop_means(enroll, mean)
    b = a if test is enroll else _crop_means(test, mean)
    return pair_dot(a, ei, b, ti, chunk)


def seed_scores(trials, enroll: Table, test: Table, mean: Optional[np.ndarray] = None,
                skip_missing: bool = False, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """SEED protocol score of every trial (float64), in trial order; see the module docstring."""
    e, t, ei, ti = resolve_tables(trials, enroll, test, skip_missing)
    return seed_pairs(e, t, ei, ti, mean, chunk)


def mean_cosine_scores(trials, enroll: Table, test: Table, mean: Optional[np.ndarray] = None,
                       skip_missing: bool = False, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Mean crop-pair cosine of every trial (float32), in trial order."""
    e, t, ei, ti = resolve_tables(trials, enroll, test, skip_missing)
    return mean_cosine_pairs(e, t, ei, ti, mean, chunk)
