"""Crops of a waveform, as the SEED code cuts its inputs (see docs/method.md).

Modes (a ``--crop`` value of seedkit-extract, :func:`parse_crop`):
  ``full``          the whole utterance (shorter than the model's minimum: wrap-padded);
  ``random:SEC``    one crop of round(SEC * rate) samples at a seeded random start
                    (start = int(u * (len - L)), u uniform from :func:`seedkit.rng.utterance_rng`
                    seeded by the run seed and the utterance id, so the crop does not depend on
                    job splits); for training pairs (SEED: 2.015 s = 32,240 samples);
  ``multi:N:SEC``   N crops of L = round(SEC * rate) samples starting at
                    int(linspace(0, len - L, N)); an [N, D] matrix per utterance (SEED
                    evaluation: ``multi:10:4.015``, L = 64,240).
A waveform of at most L samples is first wrap-padded to L + 1 samples (:func:`wrap_pad`, what
``numpy.pad(mode="wrap")`` gives), as the original loader does; training pairs crop the same way
(:func:`wrap_crop`, :func:`crop_start`). Empty audio is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seedkit.errors import OptionError, Param, SeedkitError
from seedkit.rng import utterance_rng


@dataclass(frozen=True)
class CropMode:
    """A parsed crop mode (:func:`parse_crop`)."""

    kind: str  # "full" | "random" | "multi"
    num: int = 1
    seconds: float = 0.0

    def length(self, rate: int) -> int:
        """Crop length in samples (0 for ``full``)."""
        return int(round(self.seconds * rate)) if self.kind != "full" else 0

    def __str__(self) -> str:
        if self.kind == "full":
            return "full"
        if self.kind == "random":
            return f"random:{self.seconds:g}"
        return f"multi:{self.num}:{self.seconds:g}"


def parse_crop(spec: str) -> CropMode:
    """Parse ``full`` / ``random:SEC`` / ``multi:N:SEC``."""
    parts = spec.strip().split(":")
    bad = SeedkitError(f"bad crop mode {spec!r}; use full, random:SEC (e.g. random:2.015) or "
                       "multi:N:SEC (e.g. multi:10:4.015)")
    try:
        if parts == ["full"]:
            return CropMode("full")
        if parts[0] == "random" and len(parts) == 2:
            mode = CropMode("random", 1, float(parts[1]))
        elif parts[0] == "multi" and len(parts) == 3:
            mode = CropMode("multi", int(parts[1]), float(parts[2]))
        else:
            raise bad
    except ValueError:
        raise bad from None
    if not mode.seconds > 0 or mode.num < 1 or not np.isfinite(mode.seconds):
        raise bad
    return mode


def crop_samples(crop_sec: float, rate: int) -> int:
    """Crop length in samples (2.015 s at 16 kHz -> 32,240, SEED's ``200 * 160 + 240``)."""
    if not (math.isfinite(crop_sec) and 0 < crop_sec <= 3600):
        raise OptionError(Param("crop_sec"), " must be a number of seconds in (0, 3600], got "
                          f"{crop_sec}")
    n = int(round(crop_sec * rate))
    if n < 1:
        raise OptionError(Param("crop_sec", crop_sec), f" gives no samples at {rate} Hz")
    return n


def crop_start(n: int, length: int, u: float) -> int:
    """SEED's crop start for an ``n``-sample signal (0 when it is wrap-padded)."""
    return 0 if n <= length else int(u * (n - length))


def wrap_pad(x: np.ndarray, length: int) -> np.ndarray:
    """Repeat ``x`` periodically up to ``length`` samples (``numpy.pad(..., mode="wrap")``)."""
    if len(x) == 0:
        raise ValueError("cannot wrap-pad an empty waveform")
    if len(x) >= length:
        return x
    return x[np.arange(length) % len(x)]


def wrap_crop(x: np.ndarray, length: int, start: int) -> np.ndarray:
    """``x[start:start+length]``, wrap-padding ``x`` to ``length + 1`` first when too short."""
    if len(x) <= length:
        x = wrap_pad(x, length + 1)
    return x[start:start + length]


def multi_crops(x: np.ndarray, num: int, length: int) -> np.ndarray:
    """The SEED evaluation crops: [num, length]."""
    if len(x) <= length:
        x = wrap_pad(x, length + 1)
    starts = np.linspace(0, len(x) - length, num=num)
    return np.stack([x[int(s):int(s) + length] for s in starts])


def random_crop(x: np.ndarray, length: int, seed: int, key: str) -> np.ndarray:
    """One seeded random crop: [1, length]."""
    u = float(utterance_rng(seed, key).random())
    return wrap_crop(x, length, crop_start(len(x), length, u))[None]


def make_crops(x: np.ndarray, mode: CropMode, rate: int, seed: int, key: str,
               min_samples: int = 1) -> np.ndarray:
    """Cut ``x`` per ``mode``: [K, L] float32 (K = 1 for full and random)."""
    if len(x) == 0:
        raise ValueError("empty waveform")
    if mode.kind == "full":
        return wrap_pad(x, min_samples)[None]
    length = mode.length(rate)
    if mode.kind == "random":
        return random_crop(x, length, seed, key)
    return multi_crops(x, mode.num, length)


__all__ = [
    "CropMode",
    "crop_samples",
    "crop_start",
    "make_crops",
    "multi_crops",
    "parse_crop",
    "random_crop",
    "wrap_crop",
    "wrap_pad",
]
