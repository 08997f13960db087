"""Faults a long run meets (issue 26): a killed job runner, two runs in one directory, a full disk,
a broken RIR. Every case ends in one ERROR line (or a clean stop), a non-zero exit, no traceback,
no temporary or partial file and no process left running.

Orphans are found by a unique marker word in the jobs' command lines, looked up in /proc (so a
job that survives its runner, reparented to init, is found wherever it went: tests/processes.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from processes import procs_with, wait_for

REPO = Path(__file__).resolve().parents[2]
UTILS = REPO / "utils"


def new_marker() -> str:
    return f"seedkit_fault_{uuid.uuid4().hex[:12]}"


def sleeper(marker: str, seconds: int = 300) -> str:
    """A shell command that sleeps in a process whose command line holds ``marker``."""
    return f"bash -c 'sleep {seconds}; :' {marker}"


# ------------------------------------------------------------------------- run.pl, no orphans
def start_run_pl(tmp_path: Path, marker: str, njobs: int, command: str) -> subprocess.Popen:
    """run.pl JOB=1:njobs with each job writing its shell pid to pid.JOB, then ``command``."""
    return subprocess.Popen(
        [str(UTILS / "run.pl"), f"JOB=1:{njobs}", "log/s.JOB.log",
         f"echo $$ > pid.JOB; {command}; : {marker}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def test_sigkill_of_run_pl_leaves_no_orphan(tmp_path):
    """kill -9 of run.pl (an OOM killer, a closed terminal): its wrappers, their bash and the
    commands those started all end within seconds; each log says why. Before: two sleep jobs
    outlived their run.pl."""
    marker = new_marker()
    p = start_run_pl(tmp_path, marker, 2, f"{sleeper(marker)} & sleep 300; wait")
    wait_for(lambda: all((tmp_path / f"pid.{j}").is_file() for j in (1, 2)), 20, "jobs to start")
    wait_for(lambda: len(procs_with(marker)) >= 2 + 2 + 2, 20, "the jobs' processes")
    p.kill()
    p.wait()
    wait_for(lambda: procs_with(marker) == [], 15, "the orphaned jobs to end")
    for j in (1, 2):
        log = (tmp_path / f"log/s.{j}.log").read_text()
        assert f"# run.pl (pid {p.pid}) is gone: stopping this job at " in log
        assert log.splitlines()[-1].startswith("# Ended (killed: its run.pl died) at ")


def test_sigkill_of_run_pl_stops_a_job_that_ignores_term(tmp_path):
    """A command that ignores SIGTERM is killed (SIGKILL) after the grace period."""
    marker = new_marker()
    p = start_run_pl(tmp_path, marker, 1, f"trap '' TERM; {sleeper(marker)}")
    wait_for(lambda: (tmp_path / "pid.1").is_file() and len(procs_with(marker)) >= 3, 20,
             "the job to start")
    p.kill()
    p.wait()
    wait_for(lambda: procs_with(marker) == [], 15, "the job to end")


def test_sigterm_of_run_pl_still_stops_its_jobs(tmp_path):
    """What run.pl did before stays: SIGTERM -> one ERROR line, jobs stopped, status 1."""
    marker = new_marker()
    p = start_run_pl(tmp_path, marker, 2, sleeper(marker))
    wait_for(lambda: len(procs_with(marker)) >= 2 * 3, 20, "the jobs to start")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 1
    assert err.decode().splitlines() == ["ERROR (run.pl): interrupted (SIGTERM); stopped 2 jobs"]
    wait_for(lambda: procs_with(marker) == [], 15, "the jobs to end")


def test_run_pl_normal_jobs_unchanged(tmp_path):
    """A finished run keeps its log format, exit codes and the failure summary."""
    r = subprocess.run([str(UTILS / "run.pl"), "JOB=1:3", "log/n.JOB.log",
                        "echo out JOB; [ JOB -ne 2 ] || exit 4"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["run.pl: job 2 failed (exit code 4), log is in log/n.2.log",
                                     "run.pl: 1 / 3 failed, log is in log/n.*.log"]
    for j in (1, 2, 3):
        lines = (tmp_path / f"log/n.{j}.log").read_text().splitlines()
        assert f"out {j}" in lines
        assert lines[-1].startswith(f"# Ended (code {4 if j == 2 else 0}) at ")


# ------------------------------------------------------------------ one run per recipe directory
def lock_script(tmp_path: Path, marker: str) -> Path:
    """A recipe in miniature: takes the lock as run.sh does, says so, starts a child, sleeps."""
    script = tmp_path / "recipe.sh"
    script.write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        f". {UTILS}/lib/recipe.sh\n"
        "lock_workdir exp\n"
        "echo locked $$ > locked.$$\n"
        f"{sleeper(marker)} &\n"
        f"{sleeper(marker)}\n")
    script.chmod(0o755)
    return script


def test_second_run_in_one_directory_ends_at_once_naming_the_holder(tmp_path):
    marker = new_marker()
    script = lock_script(tmp_path, marker)
    first = subprocess.Popen([str(script)], cwd=tmp_path, start_new_session=True)
    try:
        wait_for(lambda: list(tmp_path.glob("locked.*")), 20, "the first run to take the lock")
        r = subprocess.run([str(script)], cwd=tmp_path, capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 1
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("ERROR (recipe.sh): exp/run.lock:0: another run holds this "
                                   f"recipe directory (pid {first.pid}, started ")
        assert str(script) in lines[0] and "its lock is released when it ends" in lines[0]
        assert len(list(tmp_path.glob("locked.*"))) == 1  # the second one ran nothing
        assert (tmp_path / "exp/run.lock").read_bytes() == b""  # never written
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # the lock dies with its holder: the next run takes it (no stale-lock cleanup)
    wait_for(lambda: procs_with(marker) == [], 15, "the killed run's processes to end")
    again = subprocess.Popen([str(script)], cwd=tmp_path, start_new_session=True)
    try:
        wait_for(lambda: len(list(tmp_path.glob("locked.*"))) == 2, 20, "the next run's lock")
    finally:
        os.killpg(again.pid, signal.SIGKILL)
        again.wait()


def test_sigkill_of_the_recipe_alone_stops_its_children_and_frees_the_lock(tmp_path):
    """kill -9 of run.sh's own pid (not its group): the watchdog ends the stage it had started;
    a new run gets the lock."""
    marker = new_marker()
    script = lock_script(tmp_path, marker)
    first = subprocess.Popen([str(script)], cwd=tmp_path, start_new_session=True)
    try:
        wait_for(lambda: len(procs_with(marker)) >= 2, 20, "the recipe's children")
        first.kill()
        first.wait()
        wait_for(lambda: procs_with(marker) == [], 15, "the recipe's children to end")
    finally:
        with_group_killed(first.pid)
    r = subprocess.run(["bash", "-c", f". {UTILS}/lib/recipe.sh; lock_workdir exp; echo ok"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def with_group_killed(pgid: int) -> None:
    """Kill what is left of a process group the test started (nothing, when all went well)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------------------- a full disk
# A real full disk: a tmpfs of a few hundred KB mounted for the test (we run as root, as CI does;
# without root the tests fail saying so: they never skip), nearly filled with a filler file so
# that the command's output does not fit. The kernel then fails the write with ENOSPC, as a full
# shared disk does.
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def small_disk(tmp_path: Path, size_kb: int = 512):
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs",
                        str(disk)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"the disk-full tests mount a small tmpfs and need root (as CI runs them): "
                    f"mount said: {r.stderr.strip()}", pytrace=False)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` up to ``leave`` free bytes with one file (removed to make room again)."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def files_under(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def run_cmd(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True,
                          timeout=timeout, env=env)


def disk_full_error(r: subprocess.CompletedProcess, prog: str, output: Path) -> None:
    """One ERROR line naming ``output`` and the errno's words, status 1, no traceback."""
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    errors = [ln for ln in r.stderr.splitlines() if "ERROR" in ln]
    assert errors == [r.stderr.splitlines()[-1]] and r.stderr.endswith("\n"), r.stderr[-3000:]
    assert errors[0].startswith(f"ERROR ({prog}): {output}:0: No space left on device; "), \
        errors[0]


@pytest.fixture(scope="module")
def testbed(tmp_path_factory):
    """Synthetic embeddings (no audio) and a SEED model trained on them for 1 epoch."""
    from seedkit.seed.synthetic import SyntheticSpec, make_testbed, write_testbed

    out = tmp_path_factory.mktemp("faults_tb")
    spec = SyntheticSpec(dim=16, speaker_rank=4, train_speakers=16, train_utts=4,
                         eval_speakers=8, eval_utts=3, seed=3)
    paths = write_testbed(make_testbed(spec), out)
    conf = out / "tiny.yaml"
    conf.write_text("model_channels: 32\nnum_res_blocks: 2\nbatch_size: 32\nepochs: 2\n"
                    "checkpoint_interval: 4\nlog_interval: 5\nlr: 0.002\nkeep_checkpoints: 2\n")
    paths["conf"] = str(conf)
    return paths


@pytest.fixture(scope="module")
def model(testbed, tmp_path_factory) -> Path:
    """final.pt of a 1-epoch SEED run on the testbed."""
    exp = tmp_path_factory.mktemp("faults_model") / "exp"
    r = run_cmd(*train_args(testbed, exp, "--epochs", "1"))
    assert r.returncode == 0, r.stderr[-3000:]
    return exp / "final.pt"


def train_args(tb, exp: Path, *extra: str) -> list[str]:
    return ["seedkit-train-seed", "--config", tb["conf"], "--device", "cpu", "--clean",
            "scp:" + tb["clean"], "--noisy", "scp:" + tb["noisy"], "--pairs", tb["pairs"],
            *extra, str(exp)]


def test_disk_full_other_writing_commands(testbed, model, tmp_path):
    """More commands that write (metrics JSON, DET plot, PLDA model, ONNX export, a data dir):
    one ERROR line naming the output, nothing left but the filler."""
    tb = testbed
    scores = tmp_path / "scores"
    r = run_cmd("seedkit-score", tb["trials"], "scp:" + tb["eval_clean"],
                "scp:" + tb["eval_clean"], str(scores))
    assert r.returncode == 0, r.stderr
    spk = tmp_path / "utt2spk"
    keys = [ln.split()[0] for ln in Path(tb["clean"]).read_text().splitlines()]
    spk.write_text("".join(f"{k} {k.split('-')[0]}\n" for k in keys))
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text("".join(f"{k} /x/{k}.wav\n" for k in keys))
    (data / "utt2spk").write_text(spk.read_text())
    with small_disk(tmp_path, size_kb=256) as disk:
        for argv, out in (
                (["seedkit-metrics", "--json", str(disk / "m.json"), str(scores), tb["trials"]],
                 disk / "m.json"),
                (["seedkit-plot-det", "--trials", tb["trials"], str(scores), str(disk / "d.png")],
                 disk / "d.png"),
                (["seedkit-train-plda", "scp:" + tb["clean"], str(spk), str(disk / "plda")],
                 disk / "plda"),
                (["seedkit-export-onnx", str(model), str(disk / "m.onnx")],
                 disk / "m.onnx"),
                (["seedkit-copy-data-dir", str(data), str(disk / "copy")],
                 disk / "copy" / "wav.scp")):
            filler = fill(disk, leave=1024)
            disk_full_error(run_cmd(*argv), argv[0], out)
            assert files_under(disk) == ["filler"], argv[0]
            filler.unlink()


def test_disk_full_score_and_enhance(testbed, model, tmp_path):
    """seedkit-score and seedkit-enhance on a full disk: one ERROR line naming the output,
    nothing but the filler left (before: tracebacks, and enhance left .e.ark.<random>.tmp);
    with room again the same command writes what it writes on a roomy disk."""
    tb = testbed
    ref = tmp_path / "ref"
    score = ["seedkit-score", tb["trials"], "scp:" + tb["eval_clean"], "scp:" + tb["eval_clean"]]
    enhance = ["seedkit-enhance", "--seed", "0", "--device", "cpu", str(model),
               "scp:" + tb["eval_clean"]]
    ref.mkdir()
    assert run_cmd(*score, str(ref / "scores")).returncode == 0
    assert run_cmd(*enhance, f"ark,scp:{ref}/e.ark,{ref}/e.scp").returncode == 0
    with small_disk(tmp_path) as disk:
        filler = fill(disk, leave=2048)
        r = run_cmd(*score, str(disk / "scores"))
        disk_full_error(r, "seedkit-score", disk / "scores")
        r = run_cmd(*enhance, f"ark,scp:{disk}/e.ark,{disk}/e.scp")
        disk_full_error(r, "seedkit-enhance", disk / "e.ark")
        assert files_under(disk) == ["filler"]
        filler.unlink()
        assert run_cmd(*score, str(disk / "scores")).returncode == 0
        r = run_cmd(*enhance, f"ark,scp:{disk}/e.ark,{ref}/e2.scp")
        assert r.returncode == 0, r.stderr
        assert (disk / "scores").read_bytes() == (ref / "scores").read_bytes()
        assert (disk / "e.ark").read_bytes() == (ref / "e.ark").read_bytes()


def test_disk_full_during_training_keeps_the_last_checkpoint_and_resumes(testbed, tmp_path):
    """The disk fills while seedkit-train-seed writes a checkpoint: one ERROR line naming it,
    no partial or temporary file, the earlier checkpoints intact; with room again --resume ends
    with exactly the weights of a run that never met the fault."""
    import torch

    tb = testbed
    ref = tmp_path / "ref"
    assert run_cmd(*train_args(tb, ref)).returncode == 0
    ckpt_size = max(p.stat().st_size for p in (ref / "checkpoints").glob("ckpt-*.pt"))
    with small_disk(tmp_path, size_kb=4096) as disk:
        exp = disk / "exp"
        # room for the log, config and two checkpoints, not a third
        filler = fill(disk, leave=int(2.5 * ckpt_size) + 64 * 1024)
        r = run_cmd(*train_args(tb, exp))
        ckpts = sorted(p.name for p in (exp / "checkpoints").glob("*"))
        assert r.returncode == 1 and ckpts, r.stderr[-3000:]
        failed = r.stderr.splitlines()[-1].split(": ")[1].rsplit(":", 1)[0]
        disk_full_error(r, "seedkit-train-seed", Path(failed))
        assert Path(failed).parent == exp / "checkpoints" and not Path(failed).exists()
        assert all(re.fullmatch(r"ckpt-\d{9}\.pt", n) for n in ckpts), ckpts  # no temporary
        for n in ckpts:  # complete, loadable checkpoints
            assert torch.load(exp / "checkpoints" / n, weights_only=True)["kind"] == "train"
        assert not (exp / "final.pt").exists()
        filler.unlink()
        r = run_cmd(*train_args(tb, exp, "--resume"))
        assert r.returncode == 0, r.stderr[-3000:]
        a = torch.load(exp / "final.pt", weights_only=True)["model"]
        b = torch.load(ref / "final.pt", weights_only=True)["model"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
