"""Index embeddings once, map trial keys to rows, score pairs in bounded-memory chunks.

A side (enroll or test) becomes an :class:`EmbeddingSet`: a key -> row map plus either one
``[N, D]`` matrix (vectors) or a list of ``[n_i, D]`` matrices (multi-crop). Trials are turned into
two int arrays of row numbers once; every scorer then works on those arrays chunk by chunk, so a
million trials cost two gathers of ``chunk x D`` floats at a time, never a ``trials x D`` copy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from seedkit.data.trials import as_trial_list
from seedkit.errors import OptionError, Param, SeedkitError

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 1 << 15  # trials per chunk: 2 x 32768 x D float32 = 64 MiB at D = 256
#: pairs per gather + dot in :func:`pair_dot`: two 1024 x D float32 slices stay in the CPU cache
#: (at D = 256, 1M pairs: 1024 took 0.58 s, 32768 1.30 s; benchmarks/bench_score.py)
PAIR_CHUNK = 1 << 10

__all__ = ["DEFAULT_CHUNK", "PAIR_CHUNK", "EmbeddingSet", "l2_normalize", "lookup", "pair_dot",
           "scoring_threads", "used_only", "used_rows"]


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """``x / max(||x||, eps)`` along ``axis`` (as ``torch.nn.functional.normalize``)."""
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)


@dataclass
class EmbeddingSet:
    """Embeddings of one side, indexed once.

    ``vectors`` is ``[N, D]`` when every entry is a vector; ``crops`` holds the per-key matrices
    when entries are matrices (one row per crop). ``name`` says where they came from (errors).
    """

    keys: list[str]
    vectors: Optional[np.ndarray] = None
    crops: Optional[list[np.ndarray]] = None
    name: str = "embeddings"
    pos: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.pos:
            self.pos = {k: i for i, k in enumerate(self.keys)}

    @classmethod
    def from_dict(cls, table: Mapping[str, np.ndarray], name: str = "embeddings"
                  ) -> "EmbeddingSet":
        """Build from ``key -> vector`` or ``key -> [n_crops, D]`` (all vectors or all matrices,
        one dimension D)."""
        keys = list(table)
        if not keys:
            raise SeedkitError(f"no embeddings in {name}")
        arrays = [np.asarray(table[k]) for k in keys]
        ndims = {a.ndim for a in arrays}
        if not ndims <= {1, 2} or len(ndims) != 1:
            raise SeedkitError(f"{name}: entries mix vectors and matrices (or have other shapes "
                               f"{sorted(ndims)}); use one kind per archive")
        dims = {a.shape[-1] for a in arrays}
        if len(dims) != 1:
            first = arrays[0].shape[-1]
            bad = next(k for k, a in zip(keys, arrays) if a.shape[-1] != first)
            raise SeedkitError(f"{name}: entry {bad!r} has dimension {table[bad].shape[-1]} but "
                               f"{keys[0]!r} has {first}; all embeddings must have one dimension")
        if ndims == {1}:
            return cls(keys, vectors=np.stack(arrays).astype(np.float32, copy=False), name=name)
        for k, a in zip(keys, arrays):
            if a.shape[0] == 0:
                raise SeedkitError(f"{name}: entry {k!r} has no rows")
        return cls(keys, crops=[a.astype(np.float32, copy=False) for a in arrays], name=name)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1] if self.vectors is not None else self.crops[0].shape[1])

    @property
    def is_multicrop(self) -> bool:
        return self.vectors is None

    def require_vectors(self, method: str) -> np.ndarray:
        if self.vectors is None:
            raise OptionError(f"{self.name} holds multi-crop matrices; ", Param("method", method),
                              " needs one vector per utterance (use ", Param("method", "seed"),
                              " or seed-cosine, or average the crops first)")
        return self.vectors

    def mean_vector(self) -> np.ndarray:
        """Mean over all vectors (or over all crop rows), float64."""
        if self.vectors is not None:
            return self.vectors.mean(axis=0, dtype=np.float64)
        total = sum(c.sum(axis=0, dtype=np.float64) for c in self.crops)
        return total / sum(c.shape[0] for c in self.crops)

    def take(self, rows: np.ndarray) -> "EmbeddingSet":
        """A new set with the entries ``rows`` (int array, ascending), in that order."""
        keys = [self.keys[i] for i in rows.tolist()]
        if self.vectors is not None:
            return EmbeddingSet(keys, vectors=self.vectors[rows], name=self.name)
        return EmbeddingSet(keys, crops=[self.crops[i] for i in rows.tolist()], name=self.name)

    def map(self, fn) -> "EmbeddingSet":
        """A new set with ``fn`` applied to the vector matrix or to every crop matrix."""
        if self.vectors is not None:
            return EmbeddingSet(self.keys, vectors=fn(self.vectors), name=self.name, pos=self.pos)
        return EmbeddingSet(self.keys, crops=[fn(c) for c in self.crops], name=self.name,
                            pos=self.pos)


def check_same_dim(enroll: EmbeddingSet, test: EmbeddingSet) -> None:
    if enroll.dim != test.dim:
        raise SeedkitError(f"enroll embeddings ({enroll.name}) have dimension {enroll.dim} but "
                           f"test embeddings ({test.name}) have {test.dim}; score embeddings of "
                           "the same backbone (and the same SEED model) on both sides")


def lookup(keys: list[str], emb: EmbeddingSet, side: str) -> np.ndarray:
    """Row numbers of ``keys`` in ``emb``; -1 where absent."""
    pos = emb.pos
    return np.fromiter((pos.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))


def missing_report(keys: list[str], idx: np.ndarray) -> tuple[int, list[str]]:
    """(number of distinct missing keys, first five of them in trial order)."""
    seen: dict[str, None] = {}
    for i in np.flatnonzero(idx < 0):
        seen.setdefault(keys[i], None)
    names = list(seen)
    return len(names), names[:5]


def resolve_trials(enroll_keys: list[str], test_keys: list[str], enroll: EmbeddingSet,
                   test: EmbeddingSet, skip_missing: bool = False, trials_path=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map trial keys to rows: ``(enroll_idx, test_idx, keep_mask)``.

    Missing keys raise :class:`SeedkitError` with the count and the first five, unless
    ``skip_missing`` (then those trials are dropped and the count is logged).
    """
    ei = lookup(enroll_keys, enroll, "enroll")
    ti = lookup(test_keys, test, "test")
    keep = (ei >= 0) & (ti >= 0)
    n_drop = int(keep.size - keep.sum())
    if n_drop:
        parts = []
        for side, keys, idx, emb in (("enroll", enroll_keys, ei, enroll),
                                     ("test", test_keys, ti, test)):
            n, first = missing_report(keys, idx)
            if n:
                parts.append(f"{n} {side} key(s) absent from {emb.name} (first: "
                             f"{', '.join(first)})")
        msg = f"{n_drop} of {keep.size} trials cannot be scored: " + "; ".join(parts)
        if not skip_missing:
            raise OptionError(msg + "; extract the missing embeddings or pass ",
                              Param("skip_missing", True), path=trials_path)
        log.warning("%s; skipped (--skip-missing)", msg)
        if n_drop == keep.size:
            raise SeedkitError("no trial can be scored: every trial has a key absent from the "
                               "embeddings; check that the trials belong to these embeddings",
                               trials_path)
    return ei[keep], ti[keep], keep


def used_rows(n: int, *index_arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, remap)``: the ascending rows of an ``n``-row set that ``index_arrays`` use, and
    ``remap[old_row]`` = the row's place among them (O(n + trials), no sort)."""
    used = np.zeros(n, dtype=bool)
    for idx in index_arrays:
        used[idx] = True
    return np.flatnonzero(used), np.cumsum(used) - 1


def used_only(enroll: "EmbeddingSet", test: "EmbeddingSet", ei: np.ndarray, ti: np.ndarray
              ) -> tuple["EmbeddingSet", "EmbeddingSet", np.ndarray, np.ndarray]:
    """The two sides reduced to the entries the trials use, with the row pairs renumbered;
    ``test is enroll`` stays one set. Sides whose entries are all used are returned as they
    are (no copy)."""
    def reduce(emb, *idx):
        rows, remap = used_rows(len(emb.keys), *idx)
        if rows.size in (0, len(emb.keys)):
            return emb, idx
        return emb.take(rows), tuple(remap[i] for i in idx)

    if test is enroll:
        e, (ei, ti) = reduce(enroll, ei, ti)
        return e, e, ei, ti
    e, (ei,) = reduce(enroll, ei)
    t, (ti,) = reduce(test, ti)
    return e, t, ei, ti


def scoring_threads() -> int:
    """Threads for :func:`pair_dot`: the CPUs this process may use, at most 4, and no more than
    ``OMP_NUM_THREADS`` when that is set (the recipes' per-job thread share)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env = os.environ.get("OMP_NUM_THREADS", "")
    limit = int(env) if env.isdigit() and int(env) > 0 else 4
    return max(1, min(n or 1, 4, limit))


def pair_dot(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray,
             chunk: int = DEFAULT_CHUNK, threads: Optional[int] = None) -> np.ndarray:
    """``out[k] = a[ia[k]] . b[ib[k]]``, computed at most ``min(chunk, PAIR_CHUNK)`` pairs at a
    time (float32 in, float32 out for float32 input). Large lists are split between
    ``threads`` threads (default :func:`scoring_threads`; numpy's gather and dot release the
    GIL); every pair is computed the same way whatever the split, so the result is too."""
    out = np.empty(ia.shape[0], dtype=np.result_type(a.dtype, b.dtype))
    step = max(1, min(chunk, PAIR_CHUNK))
    n = ia.shape[0]

    def run(lo: int, hi: int) -> None:
        for s in range(lo, hi, step):
            e = min(s + step, hi)
            np.einsum("ij,ij->i", np.take(a, ia[s:e], axis=0), np.take(b, ib[s:e], axis=0),
                      out=out[s:e])

    threads = scoring_threads() if threads is None else max(1, threads)
    parts = min(threads, n // _PAIRS_PER_THREAD)
    if parts <= 1:
        run(0, n)
        return out
    cuts = [n * i // parts // step * step for i in range(parts)] + [n]
    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(run, cuts[:-1], cuts[1:]))
    return out


_PAIRS_PER_THREAD = 1 << 17  # below this a thread costs more than it saves


Table = Union[Mapping[str, np.ndarray], EmbeddingSet]


def as_set(table: Table, name: str) -> EmbeddingSet:
    return table if isinstance(table, EmbeddingSet) else EmbeddingSet.from_dict(table, name)


def resolve_tables(trials, enroll: Table, test: Table, skip_missing: bool = False
                   ) -> tuple[EmbeddingSet, EmbeddingSet, np.ndarray, np.ndarray]:
    """Library entry helper: trials + two dicts (or sets) -> ``(enroll_set, test_set, ei, ti)``;
    the same object on both sides is indexed once."""
    tl = as_trial_list(trials)
    if test is enroll:
        e = t = as_set(enroll, "embeddings")
    else:
        e, t = as_set(enroll, "enroll embeddings"), as_set(test, "test embeddings")
    ei, ti, _ = resolve_trials(tl.enroll, tl.test, e, t, skip_missing, tl.path)
    return e, t, ei, ti
