"""The determinism of SEED training: which pairs a step trains, in which order, with which noise.

Order. The pair order of epoch e is a permutation drawn from ``(seed, e)`` (:func:`epoch_order`).
t and epsilon of a pair are a pure function of ``(seed, e, j)``, j the pair's position in that order
(:class:`DeviceNoise`: a counter-based hash, vectorised over the batch on the training device),
not of the rank or the step that trains it. Nothing therefore depends on how many steps ran in
this process: a run resumed from a checkpoint computes the same bytes as an uninterrupted one
(single process on one device; also under DDP with the same world size).

World size. Global step s of epoch e trains the pairs at positions [s*B, s*B + B) of the epoch
order (B = ``batch_size``), whatever the number of processes W: rank r takes positions
r, r+W, r+2W, ... (``DistributedSampler``'s sharding), ``B / W`` per step, and DDP averages the
gradients. Each rank's loss is the mean over its elements, so the average is the mean over the
global batch, as in one process. At the end of an epoch whose size n is not a multiple of W the
order is padded to a multiple of W with repeated pairs (as ``DistributedSampler`` does); the
padded slots are dropped from the loss and each rank's loss is scaled by
``W * (its real pairs) / (real pairs of the step)`` (:func:`step_shard`), so the padded step too
averages to the mean over exactly the pairs one process would train.
"""

from __future__ import annotations

import math
import sys
from typing import Optional

import numpy as np
import torch

from seedkit.rng import mix_seed


def epoch_order(num_pairs: int, seed: int, epoch: int) -> torch.Tensor:
    """The pair order of epoch ``epoch``: a permutation of ``num_pairs`` from ``(seed, epoch)``."""
    g = torch.Generator().manual_seed(mix_seed(seed, 1, epoch))
    return torch.randperm(num_pairs, generator=g)


def rank_positions(num_pairs: int, rank: int, world: int) -> torch.Tensor:
    """Positions in the padded epoch order held by ``rank`` (``DistributedSampler``-style).

    The order is padded to a multiple of ``world``; a position j >= ``num_pairs`` is a padded slot
    holding the pair at position ``j % num_pairs``.
    """
    total = math.ceil(num_pairs / world) * world
    return torch.arange(rank, total, world)


def step_shard(num_pairs: int, rank: int, world: int, batch_size: int, step: int,
               device: Optional[torch.device] = None) -> tuple[torch.Tensor, float]:
    """Positions (in the epoch order) that ``rank`` trains at step ``step`` of an epoch, and the
    factor its mean loss is multiplied by.

    Global step s covers positions [s*B, s*B + B) of the order padded to a multiple of ``world``;
    rank r takes s*B + r, s*B + r + W, ... (``rank_positions``). Padded slots (>= ``num_pairs``)
    are dropped and the loss scaled by W * (real pairs here) / (real pairs of the step), so DDP's
    average of the ranks' losses is the mean over the step's real pairs. A rank left with no real
    pair keeps one padded slot with factor 0 (it must still join the gradient all-reduce). The
    positions are made on ``device`` (default the CPU); nothing is read back from it.
    """
    total = math.ceil(num_pairs / world) * world
    start = step * batch_size
    end = min(start + batch_size, total)
    first = start + rank
    if end <= num_pairs:  # no padded slot in this step: every rank holds (end - start) / W pairs
        return torch.arange(first, end, world, device=device), 1.0
    real = range(first, min(end, num_pairs), world)
    if not real:
        return torch.arange(first, first + 1, device=device), 0.0
    return (torch.arange(real.start, real.stop, world, device=device),
            world * len(real) / (num_pairs - start))


def _signed(x: int) -> int:
    """A uint64 constant as the int64 with the same bits (torch has no uint64 arithmetic)."""
    return x - (1 << 64) if x >= (1 << 63) else x


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_TWO_PI_2_24 = float(np.float32(2.0 * np.pi)) * 2.0 ** -24
_MIX = ((30, _signed(0xBF58476D1CE4E5B9)), (27, _signed(0x94D049BB133111EB)), (31, 1))
_HIGH = 1 if sys.byteorder == "little" else 0  # the high int32 half of an int64, viewed as two


def _splitmix64_(z: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser, in place on an int64 tensor (``tmp``: scratch of its shape).

    The uint64 arithmetic of the definition on int64 bits: multiplication wraps modulo 2**64
    alike; a logical right shift is the arithmetic one with the sign-extended bits masked off."""
    for shift, mult in _MIX:
        torch.bitwise_right_shift(z, shift, out=tmp)
        tmp &= (1 << (64 - shift)) - 1
        z ^= tmp
        if mult != 1:
            z *= mult
    return z


class DeviceNoise:
    """t ~ U{0..T-1} and eps ~ N(0, I_dim) of the pairs at given positions of an epoch, drawn with
    torch on the training device (no host round trip, no loop over pairs).

    A pure function of ``(seed, epoch, position)``: the pair's key is
    splitmix64(position * golden + k_e), k_e = :func:`mix_seed` (seed, 2, epoch); its j-th 64-bit
    word is splitmix64(key + (j + 1) * golden), a splitmix64 stream. Word 0 gives t (its top 32
    bits, multiply-shift); each further word gives two normals by Box-Muller in float32,
    u1 = (2 * (23 high bits) + 1) / 2**24 in (0, 1) and u2 = (24 low bits) / 2**24
    (|eps| <= 5.8). t is exact on every device; eps is exact up to the float32 rounding of log,
    sqrt, sin and cos, which differs between devices and libraries by a few 1e-7 (seedkit before
    this class drew the same function with numpy on the host; ``tests/seed/test_sampling.py``
    keeps that definition and compares).

    The batch is processed whole, with as few passes over the [n, dim / 2] words as the same bits
    allow (on the CPU each pass is a trip through memory, and a row-chunked loop measured slower:
    torch's per-op cost outweighs the cache gain): the last xorshift of a word leaves its bits
    33..63 as they are, so u1 is read before it and u2 after it without a mask; u1 is built as
    float32 bits (1.m, m = the 23 high bits, minus 1 - 2**-24: exact) from the high int32 halves,
    u2's 24 bits are narrowed to int32 before the conversion to float (int64 -> float32 is slow
    on the CPU), and r * cos / r * sin are written straight into the interleaved output. The
    working memory is kept between calls (fresh temporaries of a step's size cost as much as the
    arithmetic on the CPU), so the tensors a call returns are valid until the next call.
    """

    def __init__(self, dim: int, num_timesteps: int, device: torch.device):
        self.dim, self.num_timesteps, self.device = int(dim), int(num_timesteps), device
        self.half = (self.dim + 1) // 2
        # (j + 1) * golden for the words j = 1..half (word 0, t's, is drawn on its own)
        self.steps = torch.arange(2, self.half + 2, dtype=torch.int64, device=device) * _GOLDEN
        self._n = -1

    def _buffers(self, n: int) -> None:
        if n == self._n:
            return
        dev, half = self.device, self.half
        self.t = torch.empty(n, dtype=torch.int64, device=dev)
        self.key = torch.empty(n, dtype=torch.int64, device=dev)
        self.key_tmp = torch.empty(n, dtype=torch.int64, device=dev)
        self.words = torch.empty(n, half, dtype=torch.int64, device=dev)
        self.tmp = torch.empty(n, half, dtype=torch.int64, device=dev)
        # tmp's memory, free once u2's bits are narrowed out of it: theta and cos / sin
        flat = self.tmp.view(-1).view(torch.float32)
        self.theta, self.trig = flat[:n * half].view(n, half), flat[n * half:].view(n, half)
        self.hi = torch.empty(n, half, dtype=torch.int32, device=dev)
        self.lo = torch.empty(n, half, dtype=torch.int32, device=dev)
        self.eps = torch.empty(n, half, 2, dtype=torch.float32, device=dev)
        self._n = n

    def __call__(self, seed: int, epoch: int, positions: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """``t`` (int64, [n]) and ``eps`` (float32, [n, dim]) of the pairs at ``positions``
        (an int64 tensor on the device)."""
        n = int(positions.shape[0])
        self._buffers(n)
        key = torch.mul(positions, _GOLDEN, out=self.key)
        key += mix_seed(seed, 2, epoch)
        _splitmix64_(key, self.key_tmp)
        # t: (top 32 bits of word 0) * T >> 32, a multiply-shift
        w0 = torch.add(key, _GOLDEN, out=self.key_tmp)
        _splitmix64_(w0, self.t)
        t = torch.bitwise_right_shift(w0, 32, out=self.t)
        t &= 0xFFFFFFFF
        t *= self.num_timesteps
        t >>= 32
        # words 1..half: splitmix64 up to its last xorshift
        w, tmp = self.words, self.tmp
        torch.add(self.steps, key[:, None], out=w)
        for shift, mult in _MIX[:2]:
            torch.bitwise_right_shift(w, shift, out=tmp)
            tmp &= (1 << (64 - shift)) - 1
            w ^= tmp
            w *= mult
        # u1 = (2 * (bits 41..63) + 1) / 2**24: the float32 1.m (m = those 23 bits, taken from
        # the high int32 half) minus 1 - 2**-24, exact; the last xorshift keeps bits 33..63
        hi = self.hi.copy_(w.view(torch.int32)[:, _HIGH::2])
        hi >>= 9
        hi &= 0x7FFFFF
        hi |= 0x3F800000
        u1 = hi.view(torch.float32)
        u1 -= 1.0 - 2.0 ** -24
        # theta = 2 pi * (bits 0..23 of the last xorshift's output) / 2**24 (2 pi rounded to
        # float32 first, as numpy did; the power-of-two factor is exact, so one multiply rounds
        # as the two did); an arithmetic shift suffices, the sign bits land above bit 32
        torch.bitwise_right_shift(w, _MIX[2][0], out=tmp)
        tmp ^= w
        lo = self.lo.copy_(tmp)  # the low 32 bits
        lo &= 0xFFFFFF
        theta = self.theta.copy_(lo)
        theta *= _TWO_PI_2_24
        r = u1.log_().mul_(-2.0).sqrt_()
        trig = torch.cos(theta, out=self.trig)
        torch.mul(trig, r, out=self.eps[:, :, 0])
        torch.sin(theta, out=trig)
        torch.mul(trig, r, out=self.eps[:, :, 1])
        eps = self.eps.view(n, 2 * self.half)
        return self.t, eps[:, :self.dim] if self.dim != 2 * self.half else eps


def pair_noise(seed: int, epoch: int, positions: torch.Tensor, dim: int,
               num_timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:class:`DeviceNoise` of one call, on the device of ``positions``: ``t`` (int64, [n]) and
    ``eps`` (float32, [n, dim]), tensors of their own."""
    return DeviceNoise(dim, num_timesteps, positions.device)(seed, epoch, positions.long())
