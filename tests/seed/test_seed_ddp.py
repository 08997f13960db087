"""seedkit-train-seed under torchrun: 2 CPU processes (gloo) end with identical weights, and with
the weights of one process given the same global batch (dropout 0); the per-pair noise and the
sharding of the epoch's last, padded step that make this so."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from seedkit.rng import mix_seed
from seedkit.seed.batches import CachedPairs
from seedkit.seed.checkpoint import read_checkpoint
from seedkit.seed.data import PairSet
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.sampling import (
    pair_noise,
    rank_positions,
    step_shard,
)
from seedkit.seed.synthetic import SyntheticSpec, make_testbed, write_testbed

# --------------------------------------------------------------------------------------------
# fast: the draws and the sharding


def test_pair_noise_depends_only_on_seed_epoch_and_position():
    pos = torch.arange(0, 4000)
    t, eps = pair_noise(7, 3, pos, 33, 1000)
    assert t.dtype == torch.int64 and t.shape == (4000,)
    assert eps.dtype == torch.float32 and eps.shape == (4000, 33)
    # any subset, in any order, on any "rank", gets the same rows
    pick = torch.tensor([3999, 5, 1000, 6, 2])
    t2, eps2 = pair_noise(7, 3, pick, 33, 1000)
    assert torch.equal(t2, t[pick]) and torch.equal(eps2, eps[pick])
    for seed, epoch in ((7, 4), (8, 3)):
        t3, eps3 = pair_noise(seed, epoch, pos, 33, 1000)
        assert (eps3 != eps).float().mean() > 0.99 and (t3 != t).float().mean() > 0.99
    # the first columns do not depend on the width (one stream per pair)
    assert torch.equal(pair_noise(7, 3, pick, 8, 1000)[1], eps2[:, :8])


def test_cached_pairs_gather_the_epoch_order():
    """A batch is table rows of the pairs at its positions of the epoch's order (padded slots
    repeat pairs), on the source's device."""
    n, dim = 7, 3
    table = np.arange(10 * dim, dtype=np.float32).reshape(10, dim)
    src = np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.int64)
    tgt = np.array([0, 0, 0, 8, 8, 9, 9], dtype=np.int64)
    data = PairSet(table, src, tgt, [f"k{i}" for i in range(10)], n, 0)
    source = CachedPairs(data, 4, torch.device("cpu"))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(mix_seed(4, 1, 2)))
    for world, batch in ((1, 4), (2, 4), (3, 3)):
        for step in range(source.layout(batch, world)[0]):
            for rank in range(world):
                b = source.batch(2, step, rank, world, batch)
                pos, scale = step_shard(n, rank, world, batch, step)
                pair = order[pos % n]
                assert torch.equal(b.positions, pos) and b.scale == scale
                assert torch.equal(b.x_start, torch.from_numpy(table[src[pair.numpy()]]))
                assert torch.equal(b.x_target, torch.from_numpy(table[tgt[pair.numpy()]]))


def test_pair_noise_distribution():
    t, eps = pair_noise(0, 0, torch.arange(20000), 64, 1000)
    x = eps.double().flatten()
    n = x.numel()  # 1.28M draws: standard errors of mean / variance ~ 1e-3
    assert abs(float(x.mean())) < 5e-3 and abs(float(x.var()) - 1.0) < 5e-3
    assert abs(float((x ** 4).mean()) - 3.0) < 0.05
    assert float(x.abs().max()) < 6.0 and n == 20000 * 64
    # neighbouring columns and neighbouring pairs are uncorrelated
    e = eps.numpy().astype(np.float64)
    assert abs(np.corrcoef(e[:, 0], e[:, 1])[0, 1]) < 0.03
    assert abs(np.corrcoef(e[:-1, 9], e[1:, 9])[0, 1]) < 0.03
    assert int(t.min()) == 0 and int(t.max()) == 999
    counts = np.bincount(t.numpy() // 100, minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200  # 2000 expected per decile


@pytest.mark.parametrize("n", [1, 5, 7, 64, 96, 117])
@pytest.mark.parametrize("world,batch", [(1, 32), (2, 32), (2, 2), (3, 6), (4, 4), (4, 32)])
def test_step_shard_averages_to_the_global_batch_mean(n, world, batch):
    """DDP averages the ranks' losses; each is its mean times the shard's factor. Every real pair
    of global step s must end with weight 1 / (real pairs of the step), as in one process."""
    steps = math.ceil(n / batch)
    # W processes run as many steps per epoch as one process (train.py's formula)
    assert math.ceil(math.ceil(n / world) / (batch // world)) == steps
    for s in range(steps):
        weight: dict[int, float] = {}
        for r in range(world):
            pos, scale = step_shard(n, r, world, batch, s)
            assert pos.numel() >= 1 and scale >= 0.0
            # the ranks' shards are DistributedSampler's (every W-th of the padded order)
            held = rank_positions(n, r, world)[s * (batch // world):(s + 1) * (batch // world)]
            assert set(pos.tolist()) <= set(held.tolist())
            for p in pos.tolist():
                w = scale / (pos.numel() * world)
                if p >= n:
                    assert w == 0.0
                    continue
                assert p not in weight
                weight[p] = w
        expected = list(range(s * batch, min((s + 1) * batch, n)))
        assert sorted(weight) == expected
        for p in expected:
            assert weight[p] == pytest.approx(1.0 / len(expected), rel=1e-12)


def test_step_shard_without_padding_keeps_factor_one():
    for r in range(4):
        pos, scale = step_shard(128, r, 4, 32, 2)
        assert scale == 1.0 and pos.tolist() == list(range(64 + r, 96, 4))


# --------------------------------------------------------------------------------------------
# slow: torchrun


def _torchrun(nproc: int) -> list[str]:
    bindir = Path(sys.executable).parent
    return [str(bindir / "torchrun"), "--standalone", f"--nproc_per_node={nproc}",
            str(bindir / "seedkit-train-seed")]


@pytest.mark.slow  # two processes each importing torch: 10-30 s on 2 shared cores
def test_torchrun_two_cpu_ranks_agree(tmp_path):
    tb = make_testbed(SyntheticSpec(dim=16, speaker_rank=4, train_speakers=12, train_utts=4,
                                    eval_speakers=6, eval_utts=3, seed=2))
    paths = write_testbed(tb, tmp_path / "tb")
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({"model_channels": 32, "num_res_blocks": 2, "batch_size": 32,
                                    "epochs": 2, "checkpoint_interval": 5, "log_interval": 2,
                                    "dropout": 0.1, "ema_decay": 0.9}))
    exp = tmp_path / "exp"
    cmd = _torchrun(2) + ["--config",
           str(conf), "--clean", "scp:" + paths["clean"], "--noisy", "scp:" + paths["noisy"],
           "--pairs", paths["pairs"], "--device", "cpu", "--dev-trials", paths["trials"],
           "--dev-enroll", "scp:" + paths["eval_noisy"], str(exp)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    h0 = (exp / "log" / "rank0.weights.sha256").read_text()
    h1 = (exp / "log" / "rank1.weights.sha256").read_text()
    assert h0 == h1 and len(h0.strip()) == 64
    log = (exp / "log" / "train.log").read_text()
    assert "2 process(es)" in log and "weights identical on all 2 ranks" in log
    assert "(16 per process)" in log and "dev EER" in log
    final = read_checkpoint(exp / "final.pt")
    assert final["format"] == "seedkit-seed" and len(final["dev_history"]) == 2
    ckpt = read_checkpoint(sorted((exp / "checkpoints").glob("ckpt-*.pt"))[-1])
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])  # per-rank RNG
    # resuming under torchrun continues from the checkpoint
    r = subprocess.run(cmd[:-1] + ["--resume", "--epochs", "3", str(exp)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    log = (exp / "log" / "train.log").read_text()
    assert "resumed from" in log
    assert len(read_checkpoint(exp / "final.pt")["dev_history"]) == 3


@pytest.mark.slow  # torchrun with 2 processes + one more process: 15-40 s on 2 shared cores
def test_two_processes_give_the_weights_of_one(tmp_path):
    """Same global batch, dropout 0: 2 gloo ranks vs 1 process, 24 steps. 117 pairs (odd), so
    every epoch ends with a 21-pair step that the 2 ranks split 11 + 10 (+ 1 padded slot)."""
    spec = SyntheticSpec(dim=16, speaker_rank=4, train_speakers=13, train_utts=3, train_envs=2,
                         eval_speakers=4, eval_utts=2, seed=5)
    tb = make_testbed(spec)
    paths = write_testbed(tb, tmp_path / "tb")
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({"model_channels": 32, "num_res_blocks": 2, "batch_size": 32,
                                    "epochs": 6, "checkpoint_interval": 100, "log_interval": 4,
                                    "dropout": 0.0, "ema_decay": 0.0, "lr": 2e-3, "seed": 11}))
    args = ["--config", str(conf), "--clean", "scp:" + paths["clean"], "--noisy",
            "scp:" + paths["noisy"], "--pairs", paths["pairs"], "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for nproc in (2, 1):
        r = subprocess.run(_torchrun(nproc) + args + [str(tmp_path / f"w{nproc}")], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    one = read_checkpoint(tmp_path / "w1" / "final.pt")
    two = read_checkpoint(tmp_path / "w2" / "final.pt")
    log1 = (tmp_path / "w1" / "log" / "train.log").read_text()
    log2 = (tmp_path / "w2" / "log" / "train.log").read_text()
    assert "117 pairs" in log1 and "4 step(s) per epoch of 32 pairs/step (32 per process)" in log1
    assert "4 step(s) per epoch of 32 pairs/step (16 per process)" in log2
    assert one["step"] == two["step"] == 24
    w1, w2 = one["model"], two["model"]
    assert sorted(w1) == sorted(w2)
    diff = max(float((w1[k] - w2[k]).abs().max()) for k in w1)
    # the comparison means something: training moved the weights far more than the tolerance
    torch.manual_seed(mix_seed(11, 0))
    init = SeedDiffusion(one["config"]).net.state_dict()
    moved = max(float((w1[k] - init[k]).abs().max()) for k in w1)
    print(f"\n1 vs 2 processes, 24 steps: max abs weight diff {diff:.3e} "
          f"(weights moved up to {moved:.3e} from init)")
    assert moved > 1e-2
    assert diff <= 1e-5
