"""Keyed random generators: each draw is seeded by its names, so it is the same in any job."""

from __future__ import annotations

import hashlib

import numpy as np


def round_rng(seed: int, utt: str, k: int) -> np.random.Generator:
    """The generator of round ``k`` of utterance ``utt``: the same in any job, for any K."""
    digest = hashlib.sha256(f"seedkit-augment\0{seed}\0{utt}\0{k}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


__all__ = ["round_rng"]
