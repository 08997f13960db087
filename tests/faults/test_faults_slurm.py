"""Faults (issue 26) of utils/slurm.pl against a real one-node Slurm (tests/slurm_cluster.py):
SIGKILL of slurm.pl while it waits on its array cancels the array (a watchdog in its own session
runs scancel when slurm.pl's end of a pipe closes without its "done" byte), and a finished
slurm.pl leaves neither a watchdog nor a cancelled job.

Needs root and slurm-wlm + munge, as tests/foundation/test_slurm_real.py (fails naming what is
missing).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from processes import procs_with, wait_for
from slurm_cluster import running_cluster
from test_faults import new_marker, sleeper

REPO = Path(__file__).resolve().parents[2]
SLURM_PL = str(REPO / "utils" / "slurm.pl")


@pytest.fixture(scope="module")
def cluster():
    yield from running_cluster("these tests")


def job_id_of(log: Path) -> str:
    m = re.search(r"^# Running on \S+ as Slurm job (\d+)_\d+$", log.read_text(), re.M)
    assert m, log.read_text()
    return m.group(1)


def test_sigkill_of_slurm_pl_cancels_its_array(cluster, tmp_path):
    marker = new_marker()
    p = subprocess.Popen([SLURM_PL, "--max-jobs-run", "2", "JOB=1:3", "log/k.JOB.log",
                          f"echo $$ > pid.JOB; {sleeper(marker, 120)}"],
                         cwd=tmp_path, env=cluster.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: all((tmp_path / f"pid.{j}").is_file() for j in (1, 2)), 60,
                 "two tasks to start")
        job = job_id_of(tmp_path / "log/k.1.log")
        p.kill()
        p.wait()
        wait_for(lambda: cluster.jobs() == [], 30, "the watchdog's scancel")
        wait_for(lambda: procs_with(marker) == [], 15, "the tasks' processes to end")
        assert not (tmp_path / "pid.3").exists()  # the pending task never started
        state = cluster.run("scontrol", "-o", "show", "job", f"{job}_1")
        assert "JobState=CANCELLED" in state
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_finished_slurm_pl_leaves_no_watchdog(cluster, tmp_path):
    marker = new_marker()
    r = subprocess.run([SLURM_PL, "JOB=1:2", "log/f.JOB.log", f"echo done JOB {marker}"],
                       cwd=tmp_path, env=cluster.env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    time.sleep(0.5)
    assert procs_with(marker) == []  # the watchdog (a fork of slurm.pl) exited with it
    job = job_id_of(tmp_path / "log/f.1.log")
    for j in (1, 2):
        assert "JobState=COMPLETED" in cluster.run("scontrol", "-o", "show", "job", f"{job}_{j}")
