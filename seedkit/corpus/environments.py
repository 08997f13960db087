"""Synthesised noise and music recordings for the environment library (MUSAN's roles).

Kinds (each function takes a generator, a length in samples and the sample rate, returns float64):

- stationary noise: white, pink (1/f), brown (1/f^2), mains hum (50/60 Hz and harmonics);
- non-stationary noise: bursts of band-limited noise, clicks (decaying resonances, like typing or
  dripping), modulated noise or a siren sweep;
- music-like: tonal note sequences, chord progressions, drum rhythms;
- babble: 3-7 overlapping talkers, mixed from single-talker recordings.

Every recording depends only on its own generator, so it is the same whatever order or process
makes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import butter, sosfilt

from seedkit.corpus.signal import rms

STATIONARY_TYPES = ("white", "pink", "brown", "hum")
NONSTATIONARY_TYPES = ("bursts", "clicks", "modulated")


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum 1/f^exponent (0 white, 1 pink, 2 brown).

    Shaped in the frequency domain at a fast FFT length (prime lengths are slow) and cut to n.
    """
    m = next_fast_len(max(n, 2), real=True)
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-exponent / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, m)[:n]
    return x / (rms(x) or 1.0)


def _bandpass(x: np.ndarray, lo: float, hi: float, rate: int, order: int = 2) -> np.ndarray:
    nyq = rate / 2.0
    lo, hi = max(lo, 20.0), min(hi, nyq * 0.95)
    sos = butter(order, [lo / nyq, hi / nyq], btype="band", output="sos")
    return sosfilt(sos, x)


def hum(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with random odd/even harmonics, slow wobble and a noise floor."""
    t = np.arange(n) / rate
    f0 = (50.0 if rng.random() < 0.5 else 60.0) * (1 + rng.uniform(-0.005, 0.005))
    x = np.zeros(n)
    for k in range(1, 9):
        amp = rng.uniform(0.2, 1.0) / k ** rng.uniform(0.5, 1.5)
        x += amp * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
    wobble = 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    x = x * wobble / (rms(x) or 1.0)
    return x + 0.05 * rng.standard_normal(n)


def stationary(rng: np.random.Generator, n: int, rate: int, kind: str) -> np.ndarray:
    """One stationary noise of ``kind`` in :data:`STATIONARY_TYPES`."""
    if kind == "white":
        x = colored_noise(rng, n, rng.uniform(-0.2, 0.2))
    elif kind == "pink":
        x = colored_noise(rng, n, rng.uniform(0.8, 1.2))
    elif kind == "brown":
        x = colored_noise(rng, n, rng.uniform(1.7, 2.1))
    elif kind == "hum":
        x = hum(rng, n, rate)
    else:
        raise ValueError(f"unknown stationary noise {kind!r}")
    return x


def bursts(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Band-limited noise bursts at random times over a faint pink floor."""
    x = 0.05 * colored_noise(rng, n, 1.0)
    count = max(1, int(rng.poisson(rng.uniform(0.5, 3.0) * n / rate)))
    for _ in range(count):
        dur = int(rng.uniform(0.05, 0.8) * rate)
        start = int(rng.integers(0, max(1, n - dur)))
        lo = rng.uniform(100, 3000)
        burst = _bandpass(rng.standard_normal(dur), lo, lo * rng.uniform(1.5, 6), rate)
        env = np.exp(-np.linspace(0, rng.uniform(1, 8), dur)) * np.minimum(
            1.0, np.arange(dur) / max(1, int(0.005 * rate)))
        burst = burst * env / (rms(burst) or 1.0)
        x[start:start + dur] += rng.uniform(0.3, 2.0) * burst[: n - start]
    return x


def clicks(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Irregular clicks: short decaying resonances (typing, dripping, ticking)."""
    x = 0.02 * colored_noise(rng, n, 0.5)
    per_sec = rng.uniform(2, 10)
    t = 0.0
    base_f = rng.uniform(800, 4000)
    while True:
        t += rng.exponential(1.0 / per_sec)
        start = int(t * rate)
        if start >= n:
            break
        dur = int(rng.uniform(0.005, 0.04) * rate)
        tt = np.arange(dur) / rate
        f = base_f * rng.uniform(0.7, 1.4)
        click = np.sin(2 * np.pi * f * tt) * np.exp(-tt * rng.uniform(80, 400))
        end = min(n, start + dur)
        x[start:end] += rng.uniform(0.3, 1.0) * click[: end - start]
    return x


def modulated(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Either amplitude-modulated noise (fans, waves, traffic) or a siren-like sweep."""
    t = np.arange(n) / rate
    if rng.random() < 0.5:
        base = colored_noise(rng, n, rng.uniform(0.0, 1.5))
        fm = rng.uniform(0.2, 6.0)
        depth = rng.uniform(0.4, 0.95)
        return base * (1 + depth * np.sin(2 * np.pi * fm * t + rng.uniform(0, 2 * np.pi)))
    centre, swing = rng.uniform(500, 1200), rng.uniform(150, 500)
    rate_hz = rng.uniform(0.2, 2.0)
    inst = centre + swing * np.sin(2 * np.pi * rate_hz * t)
    phase = 2 * np.pi * np.cumsum(inst) / rate
    x = np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)
    return x + 0.1 * colored_noise(rng, n, 1.0)


def nonstationary(rng: np.random.Generator, n: int, rate: int, kind: str) -> np.ndarray:
    """One non-stationary noise of ``kind`` in :data:`NONSTATIONARY_TYPES`."""
    funcs = {"bursts": bursts, "clicks": clicks, "modulated": modulated}
    if kind not in funcs:
        raise ValueError(f"unknown non-stationary noise {kind!r}")
    return funcs[kind](rng, n, rate)


def _note(rng_timbre: tuple[float, float, int], freq: float, dur: int, rate: int,
          attack: float, release: float) -> np.ndarray:
    """A harmonic tone with an attack/decay envelope; timbre = (brightness, decay, harmonics)."""
    bright, decay, harmonics = rng_timbre
    t = np.arange(dur) / rate
    x = np.zeros(dur)
    for k in range(1, harmonics + 1):
        if freq * k >= rate / 2 * 0.9:
            break
        x += np.sin(2 * np.pi * freq * k * t) / k ** bright
    a = max(1, int(attack * rate))
    env = np.minimum(1.0, np.arange(dur) / a) * np.exp(-t * decay)
    r = min(dur, max(1, int(release * rate)))
    env[-r:] *= np.linspace(1.0, 0.0, r)
    return x * env


def _midi(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
          "pentatonic": (0, 2, 4, 7, 9)}


def tonal(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """A melody: notes of a random scale at a random tempo and timbre."""
    scale = SCALES[list(SCALES)[int(rng.integers(len(SCALES)))]]
    root = int(rng.integers(55, 72))
    beat = 60.0 / rng.uniform(70, 160)
    timbre = (rng.uniform(0.8, 2.5), rng.uniform(0.5, 4.0), int(rng.integers(3, 12)))
    x = np.zeros(n)
    pos = 0
    degree = 0
    while pos < n:
        dur = int(beat * rng.choice([0.5, 1.0, 1.0, 2.0]) * rate)
        degree = int(np.clip(degree + rng.integers(-2, 3), -len(scale), 2 * len(scale)))
        octave, step = divmod(degree, len(scale))
        freq = _midi(root + 12 * octave + scale[step])
        tone = _note(timbre, freq, dur, rate, 0.01, 0.03)
        end = min(n, pos + dur)
        x[pos:end] += tone[: end - pos]
        pos += dur
    return x


def chords(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """A chord progression with a bass note, sustained pad-like tones."""
    scale = SCALES["major" if rng.random() < 0.6 else "minor"]
    root = int(rng.integers(48, 60))
    bar = 4 * 60.0 / rng.uniform(60, 130)
    timbre = (rng.uniform(1.0, 2.5), rng.uniform(0.2, 1.5), int(rng.integers(3, 8)))
    x = np.zeros(n)
    pos = 0
    while pos < n:
        dur = int(bar * rng.choice([0.5, 1.0, 2.0]) * rate)
        deg = int(rng.integers(0, len(scale)))
        end = min(n, pos + dur)
        for k in (0, 2, 4) + ((6,) if rng.random() < 0.3 else ()):
            octave, step = divmod(deg + k, len(scale))
            tone = _note(timbre, _midi(root + 12 * octave + scale[step]), dur, rate, 0.08, 0.1)
            x[pos:end] += tone[: end - pos]
        bass = _note(timbre, _midi(root - 12 + scale[deg]), dur, rate, 0.02, 0.1)
        x[pos:end] += 0.8 * bass[: end - pos]
        pos += dur
    return x


def rhythm(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """A drum loop: kick, snare and hi-hat on a random 16-step pattern."""
    step = 60.0 / rng.uniform(80, 170) / 4
    pattern = {"kick": rng.random(16) < 0.3, "snare": rng.random(16) < 0.2,
               "hat": rng.random(16) < 0.6}
    pattern["kick"][0] = True
    x = np.zeros(n)

    def kick() -> np.ndarray:
        d = int(0.25 * rate)
        t = np.arange(d) / rate
        f = 50 + 100 * np.exp(-t * 30)
        return np.sin(2 * np.pi * np.cumsum(f) / rate) * np.exp(-t * 12)

    def snare() -> np.ndarray:
        d = int(0.18 * rate)
        t = np.arange(d) / rate
        body = np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)
        return 0.5 * body + _bandpass(rng.standard_normal(d), 1000, 7000, rate) * np.exp(-t * 20)

    def hat() -> np.ndarray:
        d = int(0.05 * rate)
        t = np.arange(d) / rate
        return 0.4 * _bandpass(rng.standard_normal(d), 5000, 7900, rate) * np.exp(-t * 80)

    makers = {"kick": kick, "snare": snare, "hat": hat}
    i = 0
    while True:
        start = int(i * step * rate)
        if start >= n:
            break
        for name, hits in pattern.items():
            if hits[i % 16]:
                s = makers[name]() * rng.uniform(0.7, 1.0)
                end = min(n, start + s.size)
                x[start:end] += s[: end - start]
        i += 1
    return x


def music(rng: np.random.Generator, n: int, rate: int, kind: str) -> np.ndarray:
    """One music-like recording of ``kind`` in ``tonal``, ``chords``, ``rhythm``."""
    funcs = {"tonal": tonal, "chords": chords, "rhythm": rhythm}
    if kind not in funcs:
        raise ValueError(f"unknown music kind {kind!r}")
    return funcs[kind](rng, n, rate)


def babble(rng: np.random.Generator, n: int, talkers: Sequence[np.ndarray]) -> np.ndarray:
    """Sum of the given talker recordings (each at equal RMS, random start, looped)."""
    x = np.zeros(n)
    for sig in talkers:
        sig = np.asarray(sig, dtype=np.float64)
        idx = (np.arange(n) + int(rng.integers(0, sig.size))) % sig.size
        seg = sig[idx]
        x += seg / (rms(seg) or 1.0) * rng.uniform(0.7, 1.0)
    return x
