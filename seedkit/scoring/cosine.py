"""Cosine scoring of single-vector embeddings (optionally after subtracting a mean vector).

``score(e, t) = (e - m) . (t - m) / (||e - m|| ||t - m||)`` with ``m = 0`` unless a mean is given
(wespeaker's ``--cal_mean``: the mean of a training set's embeddings). Vectors are normalised once
per key, then each trial is one dot product, computed in chunks (bounded memory).
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
)

__all__ = ["cosine_scores", "cosine_pairs", "normalized_vectors"]


def normalized_vectors(emb: EmbeddingSet, mean: Optional[np.ndarray] = None,
                       method: str = "cosine") -> np.ndarray:
    """``[N, D]`` float32 unit vectors of ``emb`` (after subtracting ``mean`` when given)."""
    x = emb.require_vectors(method)
    if mean is not None:
        x = x - mean.astype(np.float32)
    return l2_normalize(x).astype(np.float32, copy=False)


def cosine_pairs(enroll: EmbeddingSet, test: EmbeddingSet, ei: np.ndarray, ti: np.ndarray,
                 mean: Optional[np.ndarray] = None, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Cosine scores for resolved row pairs ``(ei, ti)``."""
    check_same_dim(enroll, test)
    a = normalized_vectors(enroll, mean)
    b = a if test is enroll else normalized_vectors(test, mean)
    return pair_dot(a, ei, b, ti, chunk)


def cosine_scores(trials, enroll: Table, test: Table, mean: Optional[np.ndarray] = None,
                  skip_missing: bool = False, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Cosine score of every trial, in trial order (float32 array).

    ``trials``: a :class:`~seedkit.data.trials.TrialList`, a list of
    :class:`seedkit.data.trials.Trial`, or ``(enroll, test[, target])`` tuples. ``enroll`` /
    ``test``: ``key -> vector`` dicts (or :class:`EmbeddingSet`). Absent keys raise
    :class:`~seedkit.errors.SeedkitError` (count and first five) unless ``skip_missing``, which
    returns scores of the scorable trials only.
    """
    e, t, ei, ti = resolve_tables(trials, enroll, test, skip_missing)
    return cosine_pairs(e, t, ei, ti, mean, chunk)
