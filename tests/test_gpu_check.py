"""benchmarks/gpu_check.sh cannot rot: its CPU smoke run (--quick) prints the whole table, every
equivalence row passes against the fixtures, and a device that is not there is one ERROR line."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import REPO

SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


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
    # the command-line tools ran (on the device and on the CPU) and agreed
    commands = {r[0].lstrip("| "): r[2] for r in rows if r[0].startswith("| command")}
    assert set(commands) == {"command: seedkit-extract test_tiny_resnet",
                             "command: seedkit-enhance"}, proc.stdout
    for value in commands.values():
        assert re.fullmatch(r"ok \(max abs diff vs cpu [0-9.e+-]+\)", value), value


def test_absent_device_is_one_error_line():
    proc = run("--quick", "--device", "cuda:99")
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "cuda:99" in errors[0] and "Traceback" not in proc.stderr
