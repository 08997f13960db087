"""seedkit-train-seed under torchrun: 2 CPU processes (gloo) end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from seedkit.seed.checkpoint import read_checkpoint
from seedkit.seed.synthetic import SyntheticSpec, make_testbed, write_testbed


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
    torchrun = Path(sys.executable).parent / "torchrun"
    script = Path(sys.executable).parent / "seedkit-train-seed"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", str(script), "--config",
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
