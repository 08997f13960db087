"""Multi-crop scoring (one ``[n_crops, D]`` matrix per utterance), the SEED / voxceleb_trainer
protocol.

``seed``: L2-normalise every crop row, then
``score(E, T) = -mean_{i,j} ||e_i - t_j||_2`` over the ``n_e x n_t`` crop pairs
(``-mean(torch.cdist(normalize(E), normalize(T)))``); the distances come from a float64 Gram
matrix, ``||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b`` (clamped at 0).

``seed-cosine``: mean cosine over crop pairs, ``mean_{i,j} e_i.t_j = (mean_i e_i).(mean_j t_j)``
for unit rows, so it is one dot product per trial.

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
    as_set,
    check_same_dim,
    l2_normalize,
    pair_dot,
    resolve_trials,
)
from seedkit.scoring.trialio import as_trial_list

__all__ = ["seed_pairs", "seed_scores", "mean_cosine_pairs", "mean_cosine_scores"]


class _CropStacks:
    """Unit-norm crop rows grouped by crop count: ``stacks[c]`` is ``[K_c, n_c, D]``."""

    def __init__(self, emb: EmbeddingSet, mean: Optional[np.ndarray]):
        mats = ([emb.vectors[i:i + 1] for i in range(emb.vectors.shape[0])]
                if emb.vectors is not None else emb.crops)
        counts = np.array([m.shape[0] for m in mats])
        self.sizes = np.unique(counts)
        self.cls = np.searchsorted(self.sizes, counts)
        self.local = np.empty(len(mats), dtype=np.int64)
        self.stacks: list[np.ndarray] = []
        self.sqnorm: list[np.ndarray] = []
        m32 = None if mean is None else mean.astype(np.float32)
        for n in self.sizes:
            members = np.flatnonzero(counts == n)
            self.local[members] = np.arange(members.size)
            if emb.vectors is not None:
                st = emb.vectors[members][:, None, :]
            else:
                st = np.stack([mats[i] for i in members])
            if m32 is not None:
                st = st - m32
            st = l2_normalize(st).astype(np.float32, copy=False)
            self.stacks.append(st)
            self.sqnorm.append(np.einsum("knd,knd->kn", st, st, dtype=np.float64))


def seed_pairs(enroll: EmbeddingSet, test: EmbeddingSet, ei: np.ndarray, ti: np.ndarray,
               mean: Optional[np.ndarray] = None, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """SEED scores (``-mean`` crop-pair Euclidean distance) for resolved row pairs."""
    check_same_dim(enroll, test)
    a = _CropStacks(enroll, mean)
    b = a if test is enroll else _CropStacks(test, mean)
    out = np.empty(ei.shape[0], dtype=np.float64)
    ce, ct = a.cls[ei], b.cls[ti]
    code = ce * len(b.sizes) + ct
    for c in np.unique(code):
        sel = np.flatnonzero(code == c)
        ca, cb = int(c) // len(b.sizes), int(c) % len(b.sizes)
        sa, sb = a.stacks[ca], b.stacks[cb]
        na, nb = sa.shape[1], sb.shape[1]
        # keep each chunk's float64 copies near chunk x D x 8 bytes
        step = max(1, chunk // max(na, nb))
        for s in range(0, sel.size, step):
            idx = sel[s:s + step]
            la, lb = a.local[ei[idx]], b.local[ti[idx]]
            g = np.matmul(sa[la].astype(np.float64), sb[lb].astype(np.float64).transpose(0, 2, 1))
            d2 = a.sqnorm[ca][la][:, :, None] + b.sqnorm[cb][lb][:, None, :] - 2.0 * g
            np.maximum(d2, 0.0, out=d2)
            out[idx] = -np.sqrt(d2).mean(axis=(1, 2))
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
    a = _crop_means(enroll, mean)
    b = a if test is enroll else _crop_means(test, mean)
    return pair_dot(a, ei, b, ti, chunk)


def _resolve(trials, enroll: Table, test: Table, skip_missing: bool):
    tl = as_trial_list(trials)
    if test is enroll:
        e = t = as_set(enroll, "embeddings")
    else:
        e, t = as_set(enroll, "enroll embeddings"), as_set(test, "test embeddings")
    ei, ti, _ = resolve_trials(tl.enroll, tl.test, e, t, skip_missing, tl.path)
    return e, t, ei, ti


def seed_scores(trials, enroll: Table, test: Table, mean: Optional[np.ndarray] = None,
                skip_missing: bool = False, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """SEED protocol score of every trial (float64), in trial order; see the module docstring."""
    e, t, ei, ti = _resolve(trials, enroll, test, skip_missing)
    return seed_pairs(e, t, ei, ti, mean, chunk)


def mean_cosine_scores(trials, enroll: Table, test: Table, mean: Optional[np.ndarray] = None,
                       skip_missing: bool = False, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Mean crop-pair cosine of every trial (float32), in trial order."""
    e, t, ei, ti = _resolve(trials, enroll, test, skip_missing)
    return mean_cosine_pairs(e, t, ei, ti, mean, chunk)
