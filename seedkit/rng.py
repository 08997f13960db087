"""Keyed random generators: each stream is seeded by a hash of its names, so an item draws the same
numbers in any process, job split or order. Each generator keeps the hash (salt and layout) it had
where it was first written, so no output byte changes.

- :func:`round_rng`: round ``k`` of a training-pair utterance (:mod:`seedkit.augment`);
- :func:`utterance_rng`: the random crop of an utterance (:mod:`seedkit.crops`);
- :func:`item_rng`: one item of the synthetic mini corpus (:mod:`seedkit.corpus`);
- :func:`repr_rng`: one file of the fake real-corpus layout (:mod:`seedkit.corpus.real_layout`);
- :func:`mix_seed`: the seeds of SEED training (initial weights, epoch orders, pair noise:
  :mod:`seedkit.seed.sampling`).
"""

from __future__ import annotations

import hashlib

import numpy as np


def round_rng(seed: int, utt: str, k: int) -> np.random.Generator:
    """The generator of round ``k`` of utterance ``utt``: the same in any job, for any K."""
    digest = hashlib.sha256(f"seedkit-augment\0{seed}\0{utt}\0{k}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def utterance_rng(seed: int, key: str) -> np.random.Generator:
    """A generator seeded by (``seed``, ``key``): the same crop whatever the job split."""
    words = np.frombuffer(hashlib.sha256(key.encode("utf-8")).digest()[:16], dtype="<u4")
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *(int(w) for w in words)])


def item_seed(seed: int, *names: object) -> int:
    """A 64-bit seed from the corpus seed and the item's names (sha256, stable across runs)."""
    text = "\x1f".join([str(int(seed))] + [str(n) for n in names])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def item_rng(seed: int, *names: object) -> np.random.Generator:
    """A numpy generator for one corpus item (PCG64 seeded with :func:`item_seed`):
    ``item_rng(seed, "utt", "train0003-0007")``."""
    return np.random.Generator(np.random.PCG64(item_seed(seed, *names)))


def repr_rng(seed: int, *names: object) -> np.random.Generator:
    """A generator seeded from the sha256 of ``repr((seed, *names))``."""
    digest = hashlib.sha256(repr((seed,) + names).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integer parts (sha256 under the salt ``seedkit-train``)."""
    h = hashlib.sha256(b"seedkit-train\0" + b"\0".join(str(int(p)).encode() for p in parts))
    return int.from_bytes(h.digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


__all__ = ["item_rng", "item_seed", "mix_seed", "repr_rng", "round_rng", "utterance_rng"]
