"""utils/slurm.pl against a real Slurm (22.05): a one-node cluster started on this machine for
these tests (tests/slurm_cluster.py). Job arrays with per-task logs, exit codes, a failing task,
a task cancelled with scancel while slurm.pl waits, Ctrl-C on slurm.pl cancelling its jobs, the
%N concurrency limit, the memory/time/thread/GPU flags the recipes pass, and a Slurm that is down
or refuses the job.

The tests need root and the apt packages slurm-wlm and munge (tools/install.sh installs them);
without them they fail, naming what is missing: a green run means Slurm really ran.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from processes import wait_for
from slurm_cluster import free_port, running_cluster

REPO = Path(__file__).resolve().parents[2]
SLURM_PL = str(REPO / "utils" / "slurm.pl")


@pytest.fixture(scope="session")
def cluster():
    yield from running_cluster("the real-Slurm tests")


def cluster_node() -> str:
    return socket.gethostname().split(".")[0]


def slurm_pl(cluster, cwd, *args, timeout=120, **env):
    return subprocess.run([SLURM_PL, *map(str, args)], cwd=cwd, env=cluster.env(**env),
                          capture_output=True, text=True, timeout=timeout)


@contextmanager
def background(cluster, cwd, *args, **env):
    """slurm.pl started in the background; killed on the way out if still running."""
    p = subprocess.Popen([SLURM_PL, *args], cwd=cwd, env=cluster.env(**env),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def job_id_of(log: Path, task: int) -> str:
    m = re.search(r"^# Running on \S+ as Slurm job (\d+)_(\d+)$", log.read_text(), re.M)
    assert m and m.group(2) == str(task), log.read_text()
    return m.group(1)


def show_job(cluster, job: str) -> dict[str, str]:
    """scontrol's fields for one job (or array task, 'ID_TASK') as a dict."""
    text = cluster.run("scontrol", "-o", "show", "job", job)
    return dict(f.split("=", 1) for f in text.split() if "=" in f)


# --------------------------------------------------------------------------------------------
def test_array_job_logs_and_exit_codes(cluster, tmp_path):
    r = slurm_pl(cluster, tmp_path, "JOB=1:3", "exp/log/t.JOB.log",
                 "echo task JOB of $SLURM_ARRAY_TASK_COUNT on $SLURMD_NODENAME; "
                 "[ JOB -ne 2 ] || exit 3")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "slurm.pl: job 2 failed (exit code 3), log is in exp/log/t.2.log",
        "slurm.pl: 1 / 3 failed, log is in exp/log/t.*.log",
    ]
    ids = set()
    for j in (1, 2, 3):
        log = tmp_path / f"exp/log/t.{j}.log"
        lines = log.read_text().splitlines()
        assert lines[0] == f"# echo task {j} of $SLURM_ARRAY_TASK_COUNT on $SLURMD_NODENAME; " \
                           f"[ {j} -ne 2 ] || exit 3 "
        assert f"task {j} of 3 on {cluster.node}" in lines
        assert lines[-1].startswith(f"# Ended (code {3 if j == 2 else 0}) at ")
        ids.add(job_id_of(log, j))
        assert (tmp_path / f"exp/log/q/t.{j}.out").is_file()
        assert (tmp_path / f"exp/log/q/t.{j}.status").read_text() == f"{3 if j == 2 else 0}\n"
    assert len(ids) == 1  # one array job
    job = ids.pop()
    # what Slurm itself recorded: one array, task 2 failed with exit code 3
    states = {j: show_job(cluster, f"{job}_{j}") for j in (1, 2, 3)}
    assert {j: s["JobState"] for j, s in states.items()} == \
        {1: "COMPLETED", 2: "FAILED", 3: "COMPLETED"}
    assert states[2]["ExitCode"] == "3:0" and states[1]["ExitCode"] == "0:0"
    assert all(s["ArrayJobId"] == job and s["JobName"] == "t" for s in states.values())
    assert cluster.jobs() == []

    r = slurm_pl(cluster, tmp_path, "log/one.log", "echo", "a b")
    assert r.returncode == 0 and r.stderr == ""
    assert "a b" in (tmp_path / "log/one.log").read_text().splitlines()


def test_recipe_flags_reach_slurm(cluster, tmp_path):
    """--mem/--time/--num-threads as cmd.sh passes them, and --gpu 0 (--device cpu): no gres."""
    r = slurm_pl(cluster, tmp_path, "--mem", "2G", "--time", "0:05:00", "--num-threads", "2",
                 "--gpu", "0", "JOB=1:1", "log/f.JOB.log",
                 "echo cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE")
    assert r.returncode == 0, r.stderr
    log = tmp_path / "log/f.1.log"
    assert "cpus=2 mem=2048" in log.read_text().splitlines()
    assert "threads=2" in log.read_text()
    job = show_job(cluster, job_id_of(log, 1) + "_1")
    assert job["TimeLimit"] == "00:05:00" and job["MinMemoryNode"] == "2G"
    assert job["NumCPUs"] == "2" and "gres" not in job.get("TresPerNode", "")


def test_gpu_request_is_scheduled_or_refused_clearly(cluster, tmp_path):
    """The node offers 2 count-only GPUs: --gpu 1 runs with gres/gpu:1 allocated; --gpu 3 cannot
    be satisfied and sbatch's refusal is the one ERROR line."""
    r = slurm_pl(cluster, tmp_path, "--gpu", "1", "JOB=1:2", "log/g.JOB.log", "echo gpu JOB")
    assert r.returncode == 0, r.stderr
    for j in (1, 2):
        log = tmp_path / f"log/g.{j}.log"
        assert f"gpu {j}" in log.read_text().splitlines()
        job = show_job(cluster, f"{job_id_of(log, j)}_{j}")
        assert job["TresPerNode"] == "gres:gpu:1" and job["JobState"] == "COMPLETED"
    r = slurm_pl(cluster, tmp_path, "--gpu", "3", "log/g3.log", "true")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "ERROR (slurm.pl): submission failed (status 1): sbatch: error: Batch job submission "
        "failed: Requested node configuration is not available; check that Slurm is up (sinfo) "
        "and accepts these options; the command was: sbatch --export=ALL --gres=gpu:3 "
        "--array=1-1 --job-name=g3 --output=log/q/g3.%a.out log/q/g3.sh"]
    assert not (tmp_path / "log/g3.log").exists() and cluster.jobs() == []


def test_max_jobs_run_limits_concurrency(cluster, tmp_path):
    stamp = "date +%s.%N > t/JOB.start; sleep 1.5; date +%s.%N > t/JOB.end"
    (tmp_path / "t").mkdir()

    def intervals(ids):
        return sorted((float((tmp_path / f"t/{j}.start").read_text()),
                       float((tmp_path / f"t/{j}.end").read_text())) for j in ids)

    # without a limit, two tasks run at once (the node has 8 CPUs)
    r = slurm_pl(cluster, tmp_path, "JOB=1:2", "log/free.JOB.log", stamp)
    assert r.returncode == 0, r.stderr
    (a0, a1), (b0, b1) = intervals((1, 2))
    assert b0 < a1
    # --max-jobs-run 1 (--array=1-3%1): one after the other
    r = slurm_pl(cluster, tmp_path, "--max-jobs-run", "1", "JOB=3:5", "log/lim.JOB.log", stamp)
    assert r.returncode == 0, r.stderr
    spans = intervals((3, 4, 5))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end
    job = show_job(cluster, job_id_of(tmp_path / "log/lim.3.log", 3) + "_3")
    assert job["ArrayTaskThrottle"] == "1"


def test_task_cancelled_with_scancel_while_waiting(cluster, tmp_path):
    with background(cluster, tmp_path, "JOB=1:2", "log/c.JOB.log", "echo started; sleep 60",
                    SLURM_PL_GRACE="2") as p:
        logs = [tmp_path / f"log/c.{j}.log" for j in (1, 2)]
        # the task's own output line (the log's header, written at submission, quotes the command)
        wait_for(lambda: all(f.is_file() and re.search(r"^started$", f.read_text(), re.M)
                             for f in logs), 60, "both tasks to start")
        job = job_id_of(logs[0], 1)
        cluster.run("scancel", f"{job}_1")
        time.sleep(1)
        assert p.poll() is None  # task 2 still runs: slurm.pl waits for it
        cluster.run("scancel", f"{job}_2")
        _, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert err.splitlines() == [
        f"slurm.pl: task 1 of Slurm job {job} ended without an exit status (killed for time or "
        "memory?); see log/q/c.1.out",
        f"slurm.pl: task 2 of Slurm job {job} ended without an exit status (killed for time or "
        "memory?); see log/q/c.2.out",
        "slurm.pl: job 1 failed (exit code none), log is in log/c.1.log",
        "slurm.pl: job 2 failed (exit code none), log is in log/c.2.log",
        "slurm.pl: 2 / 2 failed, log is in log/c.*.log",
    ]
    assert "CANCELLED" in (tmp_path / "log/q/c.1.out").read_text()
    assert show_job(cluster, f"{job}_1")["JobState"] == "CANCELLED"
    assert not list(tmp_path.glob("log/q/c.*.status"))


def test_sigint_on_slurm_pl_cancels_its_jobs(cluster, tmp_path):
    with background(cluster, tmp_path, "--max-jobs-run", "2", "JOB=1:3", "log/i.JOB.log",
                    "echo $$ > pid.JOB; sleep 60") as p:
        wait_for(lambda: all((tmp_path / f"pid.{j}").is_file() for j in (1, 2)), 60,
                 "two tasks to start")
        pids = [int((tmp_path / f"pid.{j}").read_text()) for j in (1, 2)]
        assert all(Path(f"/proc/{pid}").exists() for pid in pids)
        job = job_id_of(tmp_path / "log/i.1.log", 1)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert err.splitlines() == [
        f"ERROR (slurm.pl): interrupted (SIGINT); cancelled Slurm job {job}"]
    # the running tasks are killed and the pending one never starts
    wait_for(lambda: cluster.jobs() == [], 30, "Slurm to forget the job")
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 15,
             "the tasks' processes to end")
    assert not (tmp_path / "pid.3").exists()
    assert show_job(cluster, f"{job}_1")["JobState"] == "CANCELLED"
    assert not any("# Ended" in (tmp_path / f"log/i.{j}.log").read_text() for j in (1, 2))


def test_slurm_down_is_one_error_line(cluster, tmp_path):
    """A controller nobody listens on: sbatch gives up (about 10 s) and slurm.pl says so."""
    text = cluster.conf.read_text()
    dead = tmp_path / "dead.conf"
    dead.write_text(re.sub(r"^SlurmctldPort=\d+$", "SlurmctldPort=1", text, flags=re.M))
    t0 = time.time()
    r = subprocess.run([SLURM_PL, "JOB=1:2", "log/d.JOB.log", "true"], cwd=tmp_path,
                       env=cluster.env(SLURM_CONF=str(dead)), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and time.time() - t0 < 60
    assert r.stderr.splitlines() == [
        "ERROR (slurm.pl): submission failed (status 1): sbatch: error: Batch job submission "
        "failed: Unable to contact slurm controller (connect failure); check that Slurm is up "
        "(sinfo) and accepts these options; the command was: sbatch --export=ALL --array=1-2 "
        "--job-name=d --output=log/q/d.%a.out log/q/d.sh"]
    assert not list(tmp_path.glob("log/d.*.log"))


# --------------------------------------------------------------------------------------------
# the VoxCeleb recipe's CPU stages through Slurm
RECIPE = REPO / "egs" / "voxceleb" / "seed"


def _start_recipe(work: Path, fixtures: Path, env: dict, *extra: str) -> subprocess.Popen:
    args = ["--config", "conf/test_tiny.conf", "--corpora-on-disk", str(fixtures),
            "--corpora", str(work / "corpora"), "--data", str(work / "data"),
            "--exp", str(work / "exp"), "--results", str(work / "RESULTS.md"), *extra]
    return subprocess.Popen(["bash", "run.sh", *args], cwd=RECIPE, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish_recipe(p: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = p.communicate(timeout=1200)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, f"{err[-5000:]}\n{out[-2000:]}"
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _recipe(work: Path, fixtures: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return _finish_recipe(_start_recipe(work, fixtures, env, *extra))


def _outputs(work: Path, *roots: Path) -> dict[str, bytes]:
    """Every file the stages wrote, but logs and stamps (they name paths, hosts and times); the
    run directories named in a file read as <work>."""
    out = {}
    for p in sorted(work.rglob("*")):
        rel = p.relative_to(work)
        if p.is_symlink() or not p.is_file() or "log" in rel.parts or rel.name.startswith("."):
            continue
        data = p.read_bytes()
        for root in roots:
            data = data.replace(str(root).encode(), b"<work>")
        out[str(rel)] = data
    return out


@pytest.fixture(scope="module")
def recipe_runs(cluster, tmp_path_factory):
    """Stages 0-1 run once (locally); resampling, augmentation and embedding extraction (stages
    2-4) then run with each back end on a copy."""
    tmp = tmp_path_factory.mktemp("voxceleb_slurm")
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    env.pop("SEEDKIT_CMD", None)
    fixtures = tmp / "fixtures"
    subprocess.run([str(bindir / "seedkit-make-real-layout"), "--seed", "3", str(fixtures)],
                   check=True, capture_output=True, env=env, timeout=600)
    local, slurm = tmp / "local", tmp / "slurm"
    _recipe(local, fixtures, env, "--stop-stage", "1")
    shutil.copytree(local, slurm, symlinks=True)
    copied = {p.relative_to(slurm) for p in slurm.rglob("*.log")}
    # side by side: the Slurm run mostly waits (slurm.pl polls), the local one computes
    slurm_env = {**cluster.env(SEEDKIT_CMD="slurm", SLURM_PL_GRACE="10"), "PATH": env["PATH"]}
    p = _start_recipe(slurm, fixtures, slurm_env, "--stage", "2", "--stop-stage", "4")
    try:
        _recipe(local, fixtures, env, "--stage", "2", "--stop-stage", "4")
    finally:
        r = _finish_recipe(p)
    return {"tmp": tmp, "fixtures": fixtures, "local": local, "slurm": slurm, "copied": copied,
            "run": r, "env": slurm_env}


@pytest.mark.slow  # stages 0-1 once, 2-4 twice on the real-layout fixtures: about 3 min
def test_voxceleb_cpu_stages_through_slurm_match_local(recipe_runs):
    local, slurm = recipe_runs["local"], recipe_runs["slurm"]
    r = recipe_runs["run"]
    # every job of stages 2-4 ran as a Slurm array task
    assert "=== stage 4 done" in r.stderr + r.stdout
    job_logs = [p for p in slurm.rglob("*.log") if p.relative_to(slurm) not in recipe_runs["copied"]
                and "q" not in p.parts and p.read_text(errors="replace").startswith("# ")]
    names = sorted(str(p.relative_to(slurm)) for p in job_logs)
    for p in job_logs:
        assert re.search(r"^# Running on \S+ as Slurm job \d+_\d+$", p.read_text(), re.M), p
    assert any("resample" in n for n in names) and any("extract" in n for n in names), names
    # stage 3 writes render specs (one planning process, seconds): no job, run where run.sh runs
    assert not any("augment" in n for n in names), names
    assert not [p for p in (local / "exp").rglob("*.log") if "Slurm job" in p.read_text()]
    # and wrote exactly what the local back end writes
    a, b = _outputs(local, local, slurm), _outputs(slurm, local, slurm)
    assert sorted(a) == sorted(b)
    assert any(k.endswith("xvector.scp") for k in a)
    # stage 2 reads the audio where it lies (the default): no copies, 24 kHz files as pipes
    assert not any(k.endswith(".wav") for k in a), [k for k in a if k.endswith(".wav")]
    assert any(b"seedkit-resample-wav 16000 " in v for k, v in a.items() if k.endswith("wav.scp"))
    assert any(k.endswith("render.spec") for k in a)
    differ = [k for k in a if a[k] != b[k]]
    assert differ == []


@pytest.mark.slow  # SEED training (2 torchrun processes, 2 epochs) in a Slurm job: about 1 min
def test_docs_multi_node_sbatch_script_with_one_node(cluster, recipe_runs):
    """docs/voxceleb_recipe.md's train_seed.sbatch, as written there but for this node's size and
    a free port, run with sbatch --wait: srun, the head node from SLURM_JOB_NODELIST, run.sh's
    stage 5 with the c10d rendezvous flags. The job must not pend (a request the node cannot
    meet): it is cancelled after 30 s in that state."""
    doc = (REPO / "docs" / "voxceleb_recipe.md").read_text()
    m = re.search(r"cat > train_seed.sbatch <<'EOF'\n(.*?)\nEOF\n", doc, re.S)
    assert m, "docs/voxceleb_recipe.md has no train_seed.sbatch block"
    script = m.group(1)
    tmp, slurm = recipe_runs["tmp"], recipe_runs["slurm"]
    conf = tmp / "my.conf"
    conf.write_text((RECIPE / "conf" / "test_tiny.conf").read_text() + "".join(
        f"{k}={slurm / k}\n" for k in ("corpora", "data", "exp")))
    port = free_port()
    for old, new in (("--nodes=2", "--nodes=1"), ("--gpus-per-node=4", "--gpus-per-node=2"),
                     ("--cpus-per-task=16", "--cpus-per-task=8"),  # what the node has
                     ("--nproc-per-node 4", "--nproc-per-node 2"),
                     ("$head:29400", f"$head:{port}"), ("--config my.conf", f"--config {conf}")):
        assert old in script, old
        script = script.replace(old, new)
    (tmp / "train_seed.sbatch").write_text(script + "\n")
    p = subprocess.Popen(["sbatch", "--wait", f"--chdir={RECIPE}",
                          f"--output={tmp}/train_seed.%j.out", str(tmp / "train_seed.sbatch")],
                         env=recipe_runs["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        pending = 0.0
        while p.poll() is None and pending < 30:
            time.sleep(1)
            states = cluster.run("squeue", "-h", "-o", "%T").split()
            pending = pending + 1 if states == ["PENDING"] else 0.0
        if p.poll() is None and pending >= 30:
            cluster.cancel_all()
        stdout, stderr = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    out = "\n".join(p.read_text() for p in tmp.glob("train_seed.*.out"))
    assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{out[-5000:]}"
    job = re.search(r"Submitted batch job (\d+)", r.stdout).group(1)
    assert "=== stage 5 done" in out
    sdir = next((slurm / "exp").glob("*/seed_rdm_mlp3"))
    assert (sdir / "final.pt").is_file()
    logs = list((sdir / "log").glob("train.*.log"))
    assert [p.name for p in logs] == [f"train.{cluster_node()}.log"]
    text = logs[0].read_text()
    assert "--rdzv-endpoint" in text and f":{port}" in text and f"--rdzv-id {job}" in text
    assert "2 process(es)" in text and "weights identical on all 2 ranks" in text
