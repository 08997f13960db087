"""benchmarks/gpu_check.sh cannot rot: its CPU smoke run (--quick) prints the whole table, every
equivalence row passes against the fixtures, and a device that is not there is one ERROR line."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from seedkit.embio import write_embeddings

SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True)


@pytest.mark.slow  # full-size ResNetSE34V2 / ECAPA forwards and a torchrun start on 2 cores
def test_quick_run_prints_the_table_and_every_equivalence_passes():
    proc = run("--quick", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "| check | setting | value | note |" in lines
    rows = [ln.split(" | ") for ln in lines if ln.startswith("| ") and not ln.startswith("| check")]
    checks = [r[0].lstrip("| ") for r in rows]
    equivalence = [r for r in rows if r[0].startswith("| equivalence")]
    assert len(equivalence) == 6  # 2 backbones + RDM-MLP forward and one step at D = 512, 256
    for r in equivalence:
        m = re.fullmatch(r"ok \(max abs diff ([0-9.e+-]+)\)", r[2])
        assert m and float(m.group(1)) < 1e-4, r
    for kind, unit in (("extraction", "crops/s"), ("training", "pairs/s"),
                       ("enhancement", "emb/s")):
        values = [r[2] for r in rows if r[0].startswith(f"| {kind}")]
        assert values, f"no {kind} row in:\n{proc.stdout}"
        for v in values:
            number, got_unit = v.split(" ", 1)
            assert got_unit == unit and float(number.replace(",", "")) > 0, v
    assert "training: torchrun 1 process" in checks
    # the command-line tools ran twice (on the CPU: with other threads / batch sizes against
    # the defaults) and agreed
    commands = {r[0].lstrip("| "): r for r in rows if r[0].startswith("| command")}
    assert set(commands) == {"command: seedkit-extract test_tiny_resnet",
                             "command: seedkit-enhance"}, proc.stdout
    for r in commands.values():
        assert re.fullmatch(r"ok \(max abs diff vs cpu [0-9.e+-]+\)", r[2]), r
        assert "--batch-size" in r[1] and r[1].endswith("vs cpu"), r
    # the steady-state training lines of bench_train.py, in the table and under it
    assert "training: steady state" in checks and "sampler: one training step" in checks
    assert any(re.match(r"# D=64, 100 pairs/step: train steady-state: [0-9,]+ pairs/s \(data",
                        ln) for ln in lines), proc.stdout
    assert any(re.match(r"# D=64, 100 pairs/step: sampler [0-9.]+ ms/step \(old numpy path",
                        ln) for ln in lines), proc.stdout


def test_cpu_rows_compare_two_different_runs(tmp_path):
    """On a CPU-only check a command's checked run differs from its reference in real options,
    and the row's number is the measured difference of their outputs (not a constant)."""
    cpu = torch.device("cpu")
    run, ref = gpu_check._runs(cpu)
    assert run != ref
    for module in ("seedkit.bin.extract", "seedkit.bin.enhance"):
        extra = gpu_check._variant(module, cpu, run)
        assert "--batch-size" in extra and gpu_check._variant(module, cpu, ref) == []
        assert gpu_check._variant(module, torch.device("cuda"), "cuda") == []
    a = np.zeros((3, 4), dtype=np.float32)
    b = a.copy()
    b[1, 2] = 2.5e-5
    for name, arr in (("a", a), ("b", b)):
        write_embeddings(f"ark,scp:{tmp_path / name}.ark,{tmp_path / name}.scp",
                         [(f"k{i}", row) for i, row in enumerate(arr)])
    assert gpu_check._max_diff(tmp_path / "a.scp", tmp_path / "b.scp") == np.float32(2.5e-5)
    assert gpu_check._max_diff(tmp_path / "a.scp", tmp_path / "a.scp") == 0.0


def test_absent_device_is_one_error_line():
    proc = run("--quick", "--device", "cuda:99")
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "cuda:99" in errors[0] and "Traceback" not in proc.stderr
