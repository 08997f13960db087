"""The determinism of SEED training: which pairs a step trains, in which order, with which noise.

Order. The pair order of epoch e is a permutation drawn from ``(seed, e)`` (:func:`epoch_order`).
t and epsilon of a pair are a pure function of ``(seed, e, j)``, j the pair's position in that order
(:func:`pair_noise`: a counter-based hash, vectorised over the batch), not of the rank or the step
that trains it. Nothing therefore depends on how many steps ran in this process: a run resumed from
a checkpoint computes the same bytes as an uninterrupted one (single process on CPU; also under DDP
with the same world size).

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

import hashlib
import math

import numpy as np
import torch


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integer parts (sha256 under the salt ``seedkit-train``)."""
    h = hashlib.sha256(b"seedkit-train\0" + b"\0".join(str(int(p)).encode() for p in parts))
    return int.from_bytes(h.digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


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


def step_shard(num_pairs: int, rank: int, world: int, batch_size: int,
               step: int) -> tuple[torch.Tensor, float]:
    """Positions (in the epoch order) that ``rank`` trains at step ``step`` of an epoch, and the
    factor its mean loss is multiplied by.

    Global step s covers positions [s*B, s*B + B) of the order padded to a multiple of ``world``;
    rank r takes s*B + r, s*B + r + W, ... (``rank_positions``). Padded slots (>= ``num_pairs``)
    are dropped and the loss scaled by W * (real pairs here) / (real pairs of the step), so DDP's
    average of the ranks' losses is the mean over the step's real pairs. A rank left with no real
    pair keeps one padded slot with factor 0 (it must still join the gradient all-reduce).
    """
    total = math.ceil(num_pairs / world) * world
    start = step * batch_size
    end = min(start + batch_size, total)
    pos = torch.arange(start + rank, end, world)
    if end <= num_pairs:  # no padded slot in this step: every rank holds (end - start) / W pairs
        return pos, 1.0
    real = pos < num_pairs
    n_real = int(real.sum())
    n_step = num_pairs - start
    if n_real == 0:
        return pos[:1], 0.0
    return pos[real], world * n_real / n_step


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (wraps modulo 2**64, as intended)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def pair_noise(seed: int, epoch: int, positions: torch.Tensor, dim: int,
               num_timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """t ~ U{0..T-1} and eps ~ N(0, I_dim) of the pairs at ``positions`` of epoch ``epoch``.

    A pure function of ``(seed, epoch, position)``, computed for the whole batch at once (numpy,
    no loop over pairs): the pair's key is splitmix64(position * golden + k_e), k_e a sha256 of
    (seed, epoch); its j-th 64-bit word is splitmix64(key + (j + 1) * golden), a splitmix64
    stream. Word 0 gives t (its top 32 bits, multiply-shift); each further word gives two
    normals by Box-Muller in float32, u1 = (2 * (23 high bits) + 1) / 2**24 in (0, 1) and
    u2 = (24 low bits) / 2**24 (|eps| <= 5.8). Returns ``t`` (int64, [n]) and ``eps``
    (float32, [n, dim]).
    """
    base = np.uint64(mix_seed(seed, 2, epoch))
    pos = positions.cpu().numpy().astype(np.uint64)
    key = _splitmix64(pos * _GOLDEN + base)
    half = (dim + 1) // 2
    words = _splitmix64(key[:, None] + np.arange(1, half + 2, dtype=np.uint64) * _GOLDEN)
    t = ((words[:, 0] >> np.uint64(32)) * np.uint64(num_timesteps)) >> np.uint64(32)
    w = words[:, 1:]
    u1 = ((w >> np.uint64(41)) * np.uint64(2) + np.uint64(1)).astype(np.float32) * 2.0 ** -24
    u2 = (w & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0 ** -24)
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    theta = np.float32(2.0 * np.pi) * u2
    eps = np.empty((pos.shape[0], half, 2), dtype=np.float32)
    eps[:, :, 0] = r * np.cos(theta)
    eps[:, :, 1] = r * np.sin(theta)
    return (torch.from_numpy(t.astype(np.int64)),
            torch.from_numpy(np.ascontiguousarray(eps.reshape(pos.shape[0], 2 * half)[:, :dim])))
