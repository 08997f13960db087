"""Faults (issue 26) met by the mini recipe (egs/mini/seed, --mini-size tiny), end to end: run.sh
killed with SIGKILL in the middle of stage 4 (its own pid only, as an out-of-memory killer does)
leaves no process running; a second run.sh started beside a running one ends at once with one
ERROR line naming it; the re-run finishes with a RESULTS.md byte-identical to an uninterrupted
run's; a disk that fills during stage 7 ends in one ERROR line with nothing partial left, and the
stage re-run with room gives the same RESULTS.md.

One uninterrupted run is the reference (the session's ``tiny_run``, tests/conftest.py); the
faults are met on copies of it with a stage's outputs removed (conftest's ``copy_run``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import copy_run, run_recipe
from processes import live_processes, wait_for
from test_faults import fill, small_disk

ARGS = ("--mini-size", "tiny")


def procs_in(work: Path) -> list[str]:
    """Live processes whose working directory or command line is in ``work``."""
    return [f"{pid}: {cmd}" for pid, cmd, cwd in live_processes()
            if cwd == str(work) or cwd.startswith(f"{work}/") or str(work) in cmd]


def temporaries(work: Path) -> list[str]:
    return sorted(str(p.relative_to(work)) for p in work.rglob("*")
                  if p.is_file() and re.search(r"\.tmp$|\.tmp\.|^\.[^/]+\.[A-Za-z0-9_]{8}\.tmp$",
                                               p.name))


@pytest.mark.slow
def test_sigkill_of_run_sh_in_stage4_second_run_and_resume(tiny_run, tmp_path):
    reference = tiny_run
    work = copy_run(reference, tmp_path / "seed", "exp/ge2e", "RESULTS.md")
    log = open(tmp_path / "killed.log", "w")
    first = subprocess.Popen(["./run.sh", *ARGS], cwd=work, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        wait_for(lambda: list(work.glob("exp/ge2e/xvectors/*/log/extract.*.log")), 300,
                 "stage 4's extraction jobs")
        # a second run in the same directory: one ERROR line naming the first, before any stage
        second = subprocess.run(["./run.sh", *ARGS], cwd=work, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 1 and second.stdout == ""
        assert "stage" not in second.stderr
        assert second.stderr.splitlines() == [second.stderr.strip()]
        assert second.stderr.startswith(
            f"ERROR (run.sh): exp/run.lock:0: another run holds this recipe directory "
            f"(pid {first.pid}, started ")
        assert first.poll() is None
        first.kill()  # SIGKILL of run.sh alone: the watchdog stops its stage
        first.wait()
        wait_for(lambda: procs_in(work) == [], 20, "the killed run's processes to end")
    finally:
        log.close()
        try:
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    rerun = run_recipe(work, *ARGS)
    assert "stage 7 done" in rerun.stdout
    assert (work / "RESULTS.md").read_bytes() == (reference / "RESULTS.md").read_bytes()
    assert temporaries(work) == []


@pytest.mark.slow
def test_disk_full_in_stage7_then_rerun(tiny_run, tmp_path):
    reference = tiny_run
    work = copy_run(reference, tmp_path / "seed", "exp/ge2e/scores", "RESULTS.md")
    scores = work / "exp/ge2e/scores"
    scores.mkdir()
    with small_disk(tmp_path, size_kb=32768) as disk:
        os.rmdir(scores)
        os.symlink(disk, scores)
        filler = fill(disk, leave=8192)
        r = run_recipe(work, *ARGS, "--stage", "7", check=False)
        assert r.returncode != 0
        assert "Traceback" not in r.stdout, r.stdout[-3000:]
        # one ERROR line from each of the stage's runs that met the full disk (they run at once)
        errors = [ln for ln in r.stdout.splitlines() if ln.startswith("ERROR")]
        assert errors and all("No space left on device" in e or "(disk full?)" in e
                              for e in errors), r.stdout[-3000:]
        assert not (work / "RESULTS.md").exists()
        assert temporaries(work) == [] and temporaries(disk) == []
        filler.unlink()
        r = run_recipe(work, *ARGS, "--stage", "7")
        assert (work / "RESULTS.md").read_bytes() == (reference / "RESULTS.md").read_bytes()
        os.unlink(scores)
