"""Cached embedding pairs for SEED training, all held in memory.

Inputs: ``--clean`` (clean-utterance embeddings), ``--noisy`` (augmented copies) and ``--pairs``
(``utt2clean``: ``<paired-utt> <clean-utt>`` per line). The paired key is looked up in
``--noisy`` first, then in ``--clean`` (so ``c c`` identity lines work); the clean key in
``--clean``. With ``add_identity_pairs`` every clean utterance named by a pair also trains as
(clean, clean) unless the list already has that line: the paper's multi-pair set is
{clean copy, music, noise, reverb} -> clean.

A line ``u u`` counts as the identity pair of u whichever archive u is found in. Repeated
identical lines are read once. Everything is checked before training starts: unknown keys (count
and the first few), matrices where vectors are needed, mixed dimensions, NaN/inf (with the key),
a paired utterance mapped to two clean ones, an empty list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from seedkit.embio import read_embeddings
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import iter_table

_SHOW = 5


@dataclass
class PairSet:
    """Embedding table ``[U, D]`` and index arrays: pair i maps ``table[src[i]]`` to
    ``table[tgt[i]]``."""

    table: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    names: list[str]
    num_listed: int
    num_identity: int

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def __len__(self) -> int:
        return int(self.src.shape[0])

    def fingerprint(self) -> str:
        """sha256 over the pair list (by key) and the embedding bytes: same data, same value."""
        h = hashlib.sha256()
        h.update(np.asarray(self.table.shape, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.table, dtype=np.float32).tobytes())
        h.update(self.src.astype(np.int64).tobytes())
        h.update(self.tgt.astype(np.int64).tobytes())
        h.update("\n".join(self.names).encode())
        return h.hexdigest()[:16]


def _read_vectors(rspec: str, what: str) -> tuple[dict[str, np.ndarray], int]:
    emb = read_embeddings(rspec, check_finite=True)
    dim = None
    first = None
    for key, arr in emb.items():
        if arr.ndim != 1:
            raise SeedkitError(f"{what} embedding {key!r} is a matrix {arr.shape}; training needs "
                               "one vector per utterance (extract with --crop full or "
                               "random:SEC)", rspec)
        if dim is None:
            dim, first = arr.shape[0], key
        elif arr.shape[0] != dim:
            raise SeedkitError(f"{what} embedding {key!r} has dimension {arr.shape[0]} but "
                               f"{first!r} has {dim}; all embeddings must come from one model",
                               rspec)
    return emb, (dim or 0)


def load_pairs(clean_rspec: str, noisy_rspec: str, pairs_path: PathLike,
               add_identity: bool = True) -> PairSet:
    """Read and check the embeddings and the pair list; see the module docstring."""
    clean, dc = _read_vectors(clean_rspec, "clean")
    if not clean:
        raise SeedkitError("no clean embeddings", clean_rspec)
    noisy, dn = _read_vectors(noisy_rspec, "noisy")
    if noisy and dn != dc:
        raise SeedkitError(f"noisy embeddings have dimension {dn} but clean ones have {dc}; "
                           "extract both with the same backbone", noisy_rspec)
    listed: list[tuple[int, str, str]] = []
    seen: dict[str, tuple[int, str]] = {}
    unknown: list[str] = []
    n_unknown = 0
    for n, (paired, cl) in iter_table(pairs_path, min_fields=2, max_fields=2):
        if paired in seen:
            first, first_clean = seen[paired]
            if first_clean == cl:  # the same line again (e.g. identity lines added twice)
                continue
            raise SeedkitError(f"paired utterance {paired!r} maps to {cl!r} here but to "
                               f"{first_clean!r} on line {first}; utt2clean has one clean "
                               "utterance per paired utterance", pairs_path, n)
        seen[paired] = (n, cl)
        bad = []
        if paired not in noisy and paired not in clean:
            bad.append(f"{paired!r} not in --noisy or --clean")
        if cl not in clean:
            bad.append(f"{cl!r} not in --clean")
        if bad:
            n_unknown += 1
            if len(unknown) < _SHOW:
                unknown.append(f"line {n}: " + ", ".join(bad))
            continue
        listed.append((n, paired, cl))
    if n_unknown:
        raise SeedkitError(f"{n_unknown} pair line(s) name utterances without embeddings "
                           f"(first {len(unknown)}: {'; '.join(unknown)}); fix the pair list or "
                           "extract the missing embeddings", pairs_path)
    if not listed:
        raise SeedkitError("the pair list is empty; it needs '<paired-utt> <clean-utt>' lines",
                           pairs_path)
    index: dict[str, int] = {}
    rows: list[np.ndarray] = []
    names: list[str] = []

    def slot(source: str, key: str, arr: np.ndarray) -> int:
        name = f"{source}:{key}"
        if name not in index:
            index[name] = len(rows)
            rows.append(arr)
            names.append(name)
        return index[name]

    src, tgt = [], []
    have_identity = set()
    for _, paired, cl in listed:
        if paired in noisy:
            s = slot("noisy", paired, noisy[paired])
        else:
            s = slot("clean", paired, clean[paired])
        if paired == cl:
            have_identity.add(cl)
        src.append(s)
        tgt.append(slot("clean", cl, clean[cl]))
    num_identity = 0
    if add_identity:
        targets = sorted({cl for _, _, cl in listed} - have_identity,
                         key=lambda k: k.encode("utf-8"))
        for cl in targets:
            i = slot("clean", cl, clean[cl])
            src.append(i)
            tgt.append(i)
            num_identity += 1
    table = np.stack(rows).astype(np.float32, copy=False)
    return PairSet(table, np.asarray(src, dtype=np.int64), np.asarray(tgt, dtype=np.int64),
                   names, len(listed), num_identity)
