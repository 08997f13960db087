"""DeviceNoise's fused passes draw the bits of its definition: t bit for bit, and eps bit for bit
equal to the plain torch evaluation of the definition (every splitmix64 round in full, u1 and
u2 converted from the int64 words), within float32 rounding of the numpy uint64 definition, and
on a GPU within float32 rounding of the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedkit.rng import mix_seed
from seedkit.seed.sampling import DeviceNoise, pair_noise

_M64 = (1 << 64) - 1


def _signed(x: int) -> int:
    return x - (1 << 64) if x >= (1 << 63) else x


_GOLDEN = 0x9E3779B97F4A7C15
_MIX = ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, 1))


def _splitmix64_torch(z: torch.Tensor) -> torch.Tensor:
    for shift, mult in _MIX:
        z = z ^ (torch.bitwise_right_shift(z, shift) & ((1 << (64 - shift)) - 1))
        if mult != 1:
            z = z * _signed(mult)
    return z


def plain_noise(seed: int, epoch: int, positions: torch.Tensor, dim: int, num_timesteps: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition evaluated pass by pass in torch: the full [n, half + 1] word matrix, every
    xorshift masked, u1 and u2 taken from the int64 words and converted from int64."""
    half = (dim + 1) // 2
    key = _splitmix64_torch(positions * _signed(_GOLDEN) + mix_seed(seed, 2, epoch))
    steps = torch.arange(1, half + 2, dtype=torch.int64) * _signed(_GOLDEN)
    words = _splitmix64_torch(key[:, None] + steps)
    t = torch.bitwise_right_shift(
        (torch.bitwise_right_shift(words[:, 0], 32) & 0xFFFFFFFF) * num_timesteps, 32)
    w = words[:, 1:]
    u1 = ((torch.bitwise_right_shift(w, 41) & 0x7FFFFF) * 2 + 1).float() * 2.0 ** -24
    theta = (w & 0xFFFFFF).float() * (float(np.float32(2.0 * np.pi)) * 2.0 ** -24)
    r = torch.sqrt(torch.log(u1) * -2.0)
    eps = torch.stack([torch.cos(theta) * r, torch.sin(theta) * r], dim=2)
    return t, eps.reshape(len(positions), 2 * half)[:, :dim]


def numpy_noise(seed: int, epoch: int, positions: torch.Tensor, dim: int, num_timesteps: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition in numpy uint64 (as seedkit drew it on the host before DeviceNoise)."""
    def mix(z):
        for shift, mult in _MIX:
            z = z ^ (z >> np.uint64(shift))
            if mult != 1:
                z = z * np.uint64(mult)
        return z

    half = (dim + 1) // 2
    pos = positions.numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        key = mix(pos * np.uint64(_GOLDEN) + np.uint64(mix_seed(seed, 2, epoch) & _M64))
        words = mix(key[:, None] + np.arange(1, half + 2, dtype=np.uint64) * np.uint64(_GOLDEN))
    t = ((words[:, 0] >> np.uint64(32)) * np.uint64(num_timesteps)) >> np.uint64(32)
    w = words[:, 1:]
    u1 = ((w >> np.uint64(41)) * np.uint64(2) + np.uint64(1)).astype(np.float32) * \
        np.float32(2.0 ** -24)
    theta = np.float32(2.0 * np.pi) * ((w & np.uint64(0xFFFFFF)).astype(np.float32) *
                                       np.float32(2.0 ** -24))
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    eps = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=2)
    return (torch.from_numpy(t.astype(np.int64)),
            torch.from_numpy(eps.reshape(len(pos), 2 * half)[:, :dim].copy()))


def _positions(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    pos = torch.randperm(5 * n + 7, generator=g)[:n]
    if n >= 3:  # large positions: position * golden wraps
        pos[:3] = torch.tensor([2**40 + 3, 2**62 - 1, 2**63 - 1])
    return pos


@pytest.mark.parametrize("dim", [1, 2, 7, 33, 255, 256, 512])
@pytest.mark.parametrize("n", [1, 3, 63, 129, 1200])
def test_device_noise_is_its_definition(n, dim):
    pos = _positions(n)
    draw = DeviceNoise(dim, 1000, torch.device("cpu"))
    for seed, epoch in ((11, 5), (2**40 + 1, 0)):
        t, eps = draw(seed, epoch, pos)
        t_ref, eps_ref = plain_noise(seed, epoch, pos, dim, 1000)
        assert t.shape == (n,) and eps.shape == (n, dim) and eps.dtype == torch.float32
        # the same words, the same bits of u1 and theta, the same float32 operations on them
        assert torch.equal(t, t_ref) and torch.equal(eps, eps_ref)
        t_np, eps_np = numpy_noise(seed, epoch, pos, dim, 1000)
        assert torch.equal(t, t_np)
        assert float((eps - eps_np).abs().max()) <= 1.2e-6  # numpy's log/sin/cos vs torch's


def test_buffers_are_reused_across_calls_of_other_sizes():
    draw = DeviceNoise(33, 1000, torch.device("cpu"))
    for n in (1200, 7, 1200, 129):
        pos = _positions(n)
        t, eps = draw(3, 1, pos)
        t_ref, eps_ref = plain_noise(3, 1, pos, 33, 1000)
        assert torch.equal(t, t_ref) and torch.equal(eps, eps_ref)
    assert torch.equal(pair_noise(3, 1, pos, 33, 1000)[1], eps)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("dim", [7, 256, 512])
def test_cuda_draws_the_cpu_noise(dim):
    pos = _positions(1200)
    t, eps = DeviceNoise(dim, 1000, torch.device("cuda"))(11, 5, pos.cuda())
    t_ref, eps_ref = plain_noise(11, 5, pos, dim, 1000)
    assert torch.equal(t.cpu(), t_ref)
    assert float((eps.cpu() - eps_ref).abs().max()) <= 1.2e-6
