"""Order-independent random streams: one generator per named item, derived from the corpus seed.

``item_rng(seed, "utt", "train0003-0007")`` gives the same stream wherever and whenever the item is
made (any process, any order), so a process pool cannot change the bytes of the corpus.
"""

from __future__ import annotations

import hashlib

import numpy as np


def item_seed(seed: int, *names: object) -> int:
    """A 64-bit seed from the corpus seed and the item's names (sha256, stable across runs)."""
    text = "\x1f".join([str(int(seed))] + [str(n) for n in names])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def item_rng(seed: int, *names: object) -> np.random.Generator:
    """A numpy generator for one item (PCG64 seeded with :func:`item_seed`)."""
    return np.random.Generator(np.random.PCG64(item_seed(seed, *names)))
