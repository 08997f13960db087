"""Crops of a signal for training pairs: length in samples, SEED's start, wrap padding."""

from __future__ import annotations

import math

import numpy as np

from seedkit.errors import SeedkitError


def crop_samples(crop_sec: float, rate: int) -> int:
    """Crop length in samples (2.015 s at 16 kHz -> 32,240, SEED's ``200 * 160 + 240``)."""
    if not (math.isfinite(crop_sec) and 0 < crop_sec <= 3600):
        raise SeedkitError(f"--crop-sec must be a number of seconds in (0, 3600], got {crop_sec}")
    n = int(round(crop_sec * rate))
    if n < 1:
        raise SeedkitError(f"--crop-sec {crop_sec} gives no samples at {rate} Hz")
    return n


def crop_start(n: int, length: int, u: float) -> int:
    """SEED's crop start for an ``n``-sample signal (0 when it is wrap-padded)."""
    return 0 if n <= length else int(u * (n - length))


def wrap_crop(x: np.ndarray, length: int, start: int) -> np.ndarray:
    """``x[start:start+length]``, wrap-padding ``x`` to ``length + 1`` first when too short."""
    if len(x) <= length:
        x = np.pad(x, (0, length + 1 - len(x)), mode="wrap")
    return x[start:start + length]


__all__ = ["crop_samples", "crop_start", "wrap_crop"]
