"""The deterministic weights and waveforms that the fixtures in ``tests/data/reference`` assume.

Written for seedkit from the formula the fixtures document (``tests/data/reference/README.md``);
the fixtures check it: every state-dict entry stores ``sum``/``sum_abs`` and every waveform case
stores a checksum (``tests/foundation/test_reference_fixtures.py``).

Every random number is a double ``u`` in [0, 1) from ``random.Random(seed).random()`` (a stream that
Python keeps stable across versions); ``v = (2u - 1) * sqrt(3)`` has mean 0 and variance 1. All
arithmetic is in double precision with one rounding to float32 at the end.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

GAIN = 1.0
SQRT3 = math.sqrt(3.0)
SAMPLE_RATE = 16000


def uniform_stream(n: int, seed: int) -> np.ndarray:
    """``n`` doubles u in [0, 1): the first ``n`` draws of ``random.Random(seed)``."""
    draw = random.Random(seed).random
    return np.fromiter((draw() for _ in range(n)), dtype=np.float64, count=n)


def centred_stream(n: int, seed: int) -> np.ndarray:
    """``n`` doubles v = (2u - 1) * sqrt(3): uniform on [-sqrt 3, sqrt 3), mean 0, variance 1."""
    return (2.0 * uniform_stream(n, seed) - 1.0) * SQRT3


def tensor_for_key(key: str, shape: Iterable[int], gain: float = GAIN) -> torch.Tensor:
    """The tensor of one state-dict key; the stream is seeded by ``crc32`` of the bare key.

    Rules (first match wins): ``num_batches_tracked`` -> int64 zeros; ``running_mean`` -> 0.1 v;
    ``running_var`` -> 0.5 + u; 1-D ``weight`` -> 1 + 0.1 v; ``bias`` -> 0.05 v; anything else
    -> v * gain / sqrt(fan_in) with fan_in = prod(shape[1:]).
    """
    dims = [int(s) for s in shape]
    n = math.prod(dims)
    if key.endswith("num_batches_tracked"):
        return torch.zeros(dims, dtype=torch.int64)
    seed = zlib.crc32(key.encode("utf-8"))
    if key.endswith("running_var"):
        values = 0.5 + uniform_stream(n, seed)
    else:
        v = centred_stream(n, seed)
        if key.endswith("running_mean"):
            values = 0.1 * v
        elif key.endswith("weight") and len(dims) == 1:
            values = 1.0 + 0.1 * v
        elif key.endswith("bias"):
            values = 0.05 * v
        else:
            values = v * (gain / math.sqrt(math.prod(dims[1:])))
    return torch.from_numpy(values.astype(np.float32)).reshape(dims)


def _spec_entries(spec: Mapping[str, Any] | list) -> list[dict]:
    """A fixture's state-dict spec as dicts ``{key, shape, derived, value?}``."""
    derived: dict[str, dict] = {}
    if isinstance(spec, Mapping):
        for d in spec.get("derived_buffers", []):
            d = d if isinstance(d, Mapping) else {"key": d[0], "shape": list(d[1])}
            derived[d["key"]] = dict(d)
        items = spec["state_dict"]
    else:
        items = spec
    entries = []
    for item in items:
        e = dict(item) if isinstance(item, Mapping) else {"key": item[0], "shape": list(item[1])}
        e["derived"] = bool(e.get("derived", False)) or e["key"] in derived
        if "value" not in e and "value" in derived.get(e["key"], {}):
            e["value"] = derived[e["key"]]["value"]
        entries.append(e)
    return entries


def state_dict_from_spec(spec: Mapping[str, Any] | list, include_derived: bool = False,
                         prefix: str = "", gain: float = GAIN) -> dict[str, torch.Tensor]:
    """The ordered state dict a fixture's ``state_dict`` spec describes.

    Derived buffers (pre-emphasis filter, STFT window, mel filterbank, DCT) are skipped, or, with
    ``include_derived``, taken from the values the fixture stores. ``prefix`` (``module.``,
    ``__S__.``) is prepended to every key without changing any value.
    """
    sd: dict[str, torch.Tensor] = {}
    for e in _spec_entries(spec):
        if e["derived"]:
            if include_derived and "value" in e:
                value = torch.tensor(e["value"], dtype=torch.float32)
                sd[prefix + e["key"]] = value.reshape(e["shape"])
            continue
        sd[prefix + e["key"]] = tensor_for_key(e["key"], e["shape"], gain)
    return sd


def fixture_waveform(num_samples: int, seed: int) -> torch.Tensor:
    """The fixtures' 16 kHz test tone: 4 harmonics with vibrato, a slow envelope and 0.01 noise."""
    draw = random.Random(1000003 * seed + 12345).random
    f0 = 90.0 + 160.0 * draw()
    depth = 0.05 + 0.10 * draw()
    rate = 0.5 + 2.5 * draw()
    phi = 2.0 * math.pi * draw()
    env_rate = 0.3 + 1.2 * draw()
    amplitudes = [0.35 * (0.4 + 0.6 * draw()) / k for k in range(1, 5)]
    t = np.arange(num_samples, dtype=np.float64) / SAMPLE_RATE
    vibrato = math.cos(phi) - np.cos(2.0 * math.pi * rate * t + phi)
    phase = 2.0 * math.pi * f0 * (t + depth / (2.0 * math.pi * rate) * vibrato)
    envelope = 0.6 + 0.4 * np.sin(2.0 * math.pi * env_rate * t)
    tone = sum(a * np.sin(k * phase) for k, a in enumerate(amplitudes, start=1))
    x = envelope * tone + 0.01 * centred_stream(num_samples, 7919 * seed + 17)
    return torch.from_numpy(x.astype(np.float32))


def waveform_checksum(x: torch.Tensor) -> dict[str, Any]:
    """The checksum fields the fixtures store for each input waveform."""
    x64 = x.to(torch.float64)
    return {
        "num_samples": int(x.numel()),
        "sum": float(x64.sum()),
        "sum_sq": float((x64 * x64).sum()),
        "max_abs": float(x64.abs().max()),
        "first8": [float(v) for v in x[:8]],
        "at_1000_to_1004": [float(v) for v in x[1000:1004]],
    }
