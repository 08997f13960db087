"""seedkit-train-seed on two torchrun "nodes" on this machine: two launches with --nnodes 2
--node-rank 0/1 meeting at a c10d rendezvous on 127.0.0.1:<free port> (gloo, one process each),
as on two hosts sharing the exp dir. They train the weights of one node with two processes and of
one process (same global batch), resume from a checkpoint, and when one node is killed the other
exits at once with one ERROR line instead of hanging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from processes import procs_with
from slurm_cluster import free_port

from seedkit.seed.checkpoint import read_checkpoint
from seedkit.seed.synthetic import SyntheticSpec, make_testbed, write_testbed

BIN = Path(sys.executable).parent
TIMEOUT = 300  # per launch; a hang fails the test instead of blocking the suite


@pytest.fixture(scope="module")
def testbed(tmp_path_factory):
    """117 pairs (odd: the epoch's last step is padded), dropout 0, 4 steps per epoch."""
    tmp = tmp_path_factory.mktemp("two_nodes")
    spec = SyntheticSpec(dim=16, speaker_rank=4, train_speakers=13, train_utts=3, train_envs=2,
                         eval_speakers=4, eval_utts=2, seed=5)
    paths = write_testbed(make_testbed(spec), tmp / "tb")
    conf = tmp / "c.yaml"
    conf.write_text(yaml.safe_dump({"model_channels": 32, "num_res_blocks": 2, "batch_size": 32,
                                    "epochs": 6, "checkpoint_interval": 100, "log_interval": 4,
                                    "dropout": 0.0, "ema_decay": 0.0, "lr": 2e-3, "seed": 11}))
    return ["--config", str(conf), "--clean", "scp:" + paths["clean"], "--noisy",
            "scp:" + paths["noisy"], "--pairs", paths["pairs"], "--device", "cpu"]


ENV = dict(os.environ, OMP_NUM_THREADS="1")


def node(rank: int, port: int, args: list[str]) -> subprocess.Popen:
    """One node's torchrun; its worker dies with it (setpriv --pdeathsig, as run.sh does)."""
    cmd = [str(BIN / "torchrun"), "--nnodes", "2", "--node-rank", str(rank),
           "--nproc-per-node", "1", "--rdzv-backend", "c10d",
           "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"seedkit-test-{port}",
           "--max-restarts", "0", "--no-python", "setpriv", "--pdeathsig", "KILL", "--",
           str(BIN / "seedkit-train-seed"), *args]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(procs: list[subprocess.Popen], timeout: float = TIMEOUT) -> list[str]:
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return outs


def two_nodes(args: list[str]) -> None:
    port = free_port()
    procs = [node(r, port, args) for r in (0, 1)]
    outs = finish(procs)
    for r, (p, out) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, f"node {r}:\n{out[-3000:]}"


def one_node(nproc: int, args: list[str]) -> None:
    cmd = [str(BIN / "seedkit-train-seed"), *args]
    if nproc > 1:
        cmd = [str(BIN / "torchrun"), "--standalone", f"--nproc-per-node={nproc}", *cmd]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]


def max_diff(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow  # 4 launches of torch-importing processes: about 2 min on 2 shared cores
def test_two_nodes_train_the_weights_of_one_node_and_resume(testbed, tmp_path):
    one_node(2, testbed + [str(tmp_path / "n1x2")])
    one_node(1, testbed + [str(tmp_path / "n1x1")])
    # the two-node run is stopped after 3 of the 6 epochs and resumed: resuming is part of what
    # must reproduce the uninterrupted one-node weights
    exp = tmp_path / "n2x1"
    two_nodes(testbed + ["--epochs", "3", str(exp)])
    half = read_checkpoint(exp / "final.pt")
    assert half["step"] == 12
    assert sorted(p.name for p in (exp / "checkpoints").glob("ckpt-*.pt"))
    two_nodes(testbed + ["--resume", str(exp)])

    log = (exp / "log" / "train.log").read_text()
    assert "2 process(es) on cpu" in log and "(16 per process)" in log
    assert "resumed from" in log and "step 12, epoch 3" in log
    assert "weights identical on all 2 ranks" in log
    assert (exp / "log" / "rank0.weights.sha256").read_text() == \
        (exp / "log" / "rank1.weights.sha256").read_text()
    two = read_checkpoint(exp / "final.pt")
    one2 = read_checkpoint(tmp_path / "n1x2" / "final.pt")
    one1 = read_checkpoint(tmp_path / "n1x1" / "final.pt")
    assert two["step"] == one2["step"] == one1["step"] == 24
    d_nodes = max_diff(two["model"], one2["model"])
    d_one = max_diff(two["model"], one1["model"])
    moved = max_diff(two["model"], half["model"])
    print(f"\n2 nodes x 1 (resumed at step 12) vs 1 node x 2: max abs weight diff {d_nodes:.3e}; "
          f"vs 1 process: {d_one:.3e} (the last 12 steps moved weights by up to {moved:.3e})")
    assert moved > 1e-2
    assert d_nodes <= 1e-6  # the same two gloo ranks, whichever host they sit on
    assert d_one <= 1e-5  # float summation order only (tests/seed/test_seed_ddp.py)


@pytest.mark.slow  # 2 launches and a kill: 30-60 s on 2 shared cores
def test_killed_node_makes_the_other_exit(testbed, tmp_path):
    exp = tmp_path / "killed"
    port = free_port()
    args = testbed + ["--epochs", "100000", "--checkpoint-interval", "8", str(exp)]
    procs = [node(r, port, args) for r in (0, 1)]
    try:
        deadline = time.time() + TIMEOUT
        while not list(exp.glob("checkpoints/ckpt-*.pt")):  # training runs, a checkpoint is kept
            assert time.time() < deadline, "no checkpoint written"
            assert all(p.poll() is None for p in procs), "a node exited before training"
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)  # node 1: its agent, then (pdeathsig) its worker
        t0 = time.time()
        out0 = procs[0].communicate(timeout=120)[0]
        waited = time.time() - t0
    finally:
        finish(procs, timeout=30)
    assert procs[0].returncode != 0
    errors = [ln for ln in out0.splitlines() if "ERROR (seedkit-train-seed)" in ln]
    assert len(errors) == 1, out0[-4000:]
    print(f"\nnode 1 killed; node 0 exited after {waited:.1f} s with: {errors[0]}")
    assert "rank 0 of 2 lost its connection to the other training processes (Connection " \
           "closed by peer" in errors[0] or "Connection reset by peer" in errors[0], errors[0]
    assert errors[0].endswith("run the same command with --resume on every node to continue")
    assert "[rank0]: Traceback" not in out0  # the worker says it in one line
    assert waited < 60
    time.sleep(1)
    assert procs_with(str(exp)) == []  # no orphaned worker on either node


def test_lost_peer_error_only_for_a_vanished_peer_under_torchrun(monkeypatch):
    from seedkit.seed.distributed import lost_peer_error

    gone = RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:547] Connection "
                        "closed by peer [127.0.0.1]:44672\nmore")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert lost_peer_error(gone) is None  # one process: not a distributed failure
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    assert lost_peer_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    err = lost_peer_error(gone)
    assert err.format("seedkit-train-seed") == (
        "ERROR (seedkit-train-seed): rank 3 of 4 lost its connection to the other training "
        "processes (Connection closed by peer [127.0.0.1]:44672): a process or node of this run "
        "died or was killed (see its log); the checkpoints are kept: run the same command with "
        "--resume on every node to continue")
