"""Simulated room impulse responses for small, medium and large shoebox rooms.

As in RIRS_NOISES/simulated_rirs: room length and width 1-10 m (small), 10-30 m (medium), 30-50 m
(large), height 2-5 m, one wall absorption coefficient per room in 0.2-0.8, random source and
receiver positions. The response is an image-source model of the early reflections (order 3,
fractional delays by linear interpolation) plus a diffuse tail: Gaussian noise decaying at the
Sabine RT60, built up over the first milliseconds and scaled to the diffuse-field energy
``16 pi d^2 / R`` relative to the direct sound (R the room constant). numpy only, deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

SPEED_OF_SOUND = 343.0

#: (min, max) length/width in metres per room type.
ROOM_SIZES = {"smallroom": (1.0, 10.0), "mediumroom": (10.0, 30.0), "largeroom": (30.0, 50.0)}
HEIGHT = (2.0, 5.0)
ABSORPTION = (0.2, 0.8)
MAX_RIR_SEC = 1.0


@dataclass(frozen=True)
class Room:
    """A shoebox room: size in metres and one absorption coefficient for all walls."""

    room_type: str
    size: tuple[float, float, float]
    absorption: float

    @property
    def rt60(self) -> float:
        """Sabine reverberation time in seconds."""
        lx, ly, lz = self.size
        volume = lx * ly * lz
        surface = 2 * (lx * ly + lx * lz + ly * lz)
        return 0.161 * volume / (surface * self.absorption)

    @property
    def room_constant(self) -> float:
        lx, ly, lz = self.size
        surface = 2 * (lx * ly + lx * lz + ly * lz)
        return surface * self.absorption / (1 - self.absorption)

    def to_dict(self) -> dict:
        return {"room_type": self.room_type, "size": [round(v, 3) for v in self.size],
                "absorption": round(self.absorption, 4), "rt60": round(self.rt60, 4)}


def draw_room(rng: np.random.Generator, room_type: str) -> Room:
    """A random room of ``room_type`` (``smallroom``, ``mediumroom`` or ``largeroom``)."""
    lo, hi = ROOM_SIZES[room_type]
    size = (float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi)), float(rng.uniform(*HEIGHT)))
    return Room(room_type, size, float(rng.uniform(*ABSORPTION)))


def _position(rng: np.random.Generator, size: tuple[float, float, float]) -> np.ndarray:
    margin = np.minimum(0.5, np.asarray(size) * 0.2)
    return np.array([rng.uniform(m, s - m) for m, s in zip(margin, size)])


def image_source_rir(room: Room, src: np.ndarray, mic: np.ndarray, rate: int, length: int,
                     order: int = 3) -> np.ndarray:
    """Early reflections of a shoebox room up to ``order`` images per axis (1/d attenuation,
    wall reflection sqrt(1 - absorption) per bounce)."""
    beta = np.sqrt(1.0 - room.absorption)
    size = np.asarray(room.size)
    rng_n = np.arange(-order, order + 1)
    h = np.zeros(length + 2)
    # per axis: image coordinates and the number of wall bounces for each (n, p)
    coords, bounces = [], []
    for axis in range(3):
        c, b = [], []
        for p in (0, 1):
            for n in rng_n:
                c.append((1 - 2 * p) * src[axis] + 2 * n * size[axis])
                b.append(abs(n - p) + abs(n))
        coords.append(np.array(c))
        bounces.append(np.array(b))
    x, y, z = np.meshgrid(coords[0], coords[1], coords[2], indexing="ij")
    bx, by, bz = np.meshgrid(bounces[0], bounces[1], bounces[2], indexing="ij")
    dist = np.sqrt((x - mic[0]) ** 2 + (y - mic[1]) ** 2 + (z - mic[2]) ** 2).ravel()
    amp = (beta ** (bx + by + bz)).ravel() / np.maximum(dist, 0.1)
    delay = dist / SPEED_OF_SOUND * rate
    keep = delay < length
    delay, amp = delay[keep], amp[keep]
    i0 = np.floor(delay).astype(np.int64)
    frac = delay - i0
    np.add.at(h, i0, amp * (1 - frac))
    np.add.at(h, i0 + 1, amp * frac)
    return h[:length]


def synth_rir(rng: np.random.Generator, room: Room, rate: int = 16000) -> np.ndarray:
    """One impulse response of ``room`` (random source and receiver), peak-normalised to 0.9."""
    src, mic = _position(rng, room.size), _position(rng, room.size)
    dist = float(max(np.linalg.norm(src - mic), 0.3))
    t_direct = dist / SPEED_OF_SOUND
    rt60 = room.rt60
    length = int(min(t_direct + rt60 + 0.05, MAX_RIR_SEC) * rate)
    h = image_source_rir(room, src, mic, rate, length)
    # diffuse tail: energy 16 pi d^2 / R times the direct sound's (1/d)^2
    t = np.arange(length) / rate - t_direct
    onset = np.clip(t / 0.01, 0.0, 1.0)
    env = onset * np.exp(-6.9078 * np.clip(t, 0, None) / rt60)
    tail = rng.standard_normal(length) * env
    # gentle low-pass of the tail (air and wall absorption damp high frequencies)
    a = float(np.clip(0.2 + 0.5 * (1 - room.absorption), 0.0, 0.9))
    tail = _one_pole(tail, a)
    want = (1.0 / dist) ** 2 * 16 * np.pi * dist ** 2 / room.room_constant
    have = float(np.sum(tail ** 2))
    if have > 0:
        tail *= np.sqrt(want / have)
    h = h + tail
    return 0.9 * h / float(np.max(np.abs(h)))


def _one_pole(x: np.ndarray, a: float) -> np.ndarray:
    """y[n] = (1 - a) x[n] + a y[n-1] (scipy's lfilter: deterministic, fast)."""
    return lfilter([1 - a], [1, -a], x)
