"""utils/: parse_options.sh, run.pl, slurm.pl (against a fake sbatch) and the data-dir wrappers."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UTILS = REPO / "utils"


def sh(args, cwd, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=60, **kw)


# --------------------------------------------------------------------------- parse_options.sh
SCRIPT = """#!/usr/bin/env bash
# Demo script: prints its options.
# Second line of the header.
set -euo pipefail
stage=0
stop_stage=100
nj=4
use_gpu=false
name="a b"
{extra}
. {utils}/parse_options.sh
echo "stage=$stage stop_stage=$stop_stage nj=$nj use_gpu=$use_gpu name=$name args=$#:$*"
"""


@pytest.fixture
def demo(tmp_path):
    def make(extra: str = "") -> Path:
        path = tmp_path / "demo.sh"
        path.write_text(SCRIPT.format(extra=extra, utils=UTILS))
        path.chmod(0o755)
        return path
    return make


@pytest.mark.parametrize("args,want", [
    (["--stage", "3"], "stage=3 stop_stage=100"),
    (["--stop-stage", "5"], "stop_stage=5 "),
    (["--stop_stage", "6"], "stop_stage=6 "),
    (["--nj=2", "--name", "c  d", "x", "y"], "nj=2 use_gpu=false name=c  d args=2:x y"),
    (["--use-gpu", "true", "--", "--stage"], "use_gpu=true name=a b args=1:--stage"),
])
def test_parse_options_sets_variables(demo, tmp_path, args, want):
    out = sh([demo(), *args], tmp_path)
    assert out.returncode == 0, out.stderr
    assert want in out.stdout


@pytest.mark.parametrize("args,words", [
    (["--foo", "1"], "ERROR (demo.sh): invalid option --foo; known options: --stage "
                     "--stop-stage --nj --use-gpu --name (see --help)"),
    (["--use-gpu", "yes"], "ERROR (demo.sh): option --use-gpu expects true or false, got 'yes'"),
    (["--stage"], "ERROR (demo.sh): option --stage needs a value"),
    (["--help_message", "x"], "invalid option --help_message"),
    (["--config", "nope.conf"], "ERROR (demo.sh): nope.conf:0: config file not found"),
])
def test_parse_options_rejects(demo, tmp_path, args, words):
    out = sh([demo(), *args], tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert words in out.stderr


def test_parse_options_help_lists_variables(demo, tmp_path):
    out = sh([demo(), "--nj", "8", "--help"], tmp_path)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[:2] == ["Demo script: prints its options.", "Second line of the header."]
    opts = {ln.split()[0]: ln.split(None, 1)[1] if len(ln.split()) > 1 else ""
            for ln in lines if ln.startswith("  --")}
    assert opts == {"--stage": "0", "--stop-stage": "100", "--nj": "8", "--use-gpu": "false",
                    "--name": "a b"}
    out = sh([demo('help_message="Usage: demo.sh [options] <dir>"'), "--help"], tmp_path)
    assert out.stdout.splitlines()[0] == "Usage: demo.sh [options] <dir>"
    assert "  --stop-stage" in out.stdout


def test_parse_options_config_file(demo, tmp_path):
    (tmp_path / "my.conf").write_text("nj=9\nstage=2\n")
    out = sh([demo(), "--stage", "5", "--config", "my.conf"], tmp_path)
    assert "stage=5 stop_stage=100 nj=9 " in out.stdout  # command line wins over the file
    # a script with its own "config" variable gets it as an ordinary option (not sourced)
    out = sh([demo('config=""\necho "config=$config"'), "--config", "x.yaml"], tmp_path)
    assert out.returncode == 0 and "nj=4" in out.stdout


def test_parse_options_empty_cmd(demo, tmp_path):
    out = sh([demo("cmd=run.pl"), "--cmd", ""], tmp_path)
    assert out.returncode == 1 and "empty value for --cmd" in out.stderr


# --------------------------------------------------------------------------- run.pl
def test_run_pl_failing_jobs(tmp_path):
    out = sh([UTILS / "run.pl", "JOB=1:4", "exp/log/x.JOB.log",
              "echo job JOB; [ JOB -ne 2 ] && [ JOB -ne 4 ]"], tmp_path)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "run.pl: job 2 failed (exit code 1), log is in exp/log/x.2.log",
        "run.pl: job 4 failed (exit code 1), log is in exp/log/x.4.log",
        "run.pl: 2 / 4 failed, log is in exp/log/x.*.log",
    ]
    for j in range(1, 5):
        log = (tmp_path / f"exp/log/x.{j}.log").read_text().splitlines()
        assert log[0] == f"# echo job {j}; [ {j} -ne 2 ] && [ {j} -ne 4 ] "
        assert log[1].startswith("# Started at ")
        assert log[3] == f"job {j}"
        code = 1 if j in (2, 4) else 0
        assert re.match(rf"# Ended \(code {code}\) at .*, elapsed time \d+ seconds$", log[-1])


def test_run_pl_bounds_concurrency(tmp_path):
    # each job records when it starts and ends; at most 2 may overlap, and 2 do
    out = sh([UTILS / "run.pl", "--max-jobs-run", "2", "JOB=1:5", "log/t.JOB.log",
              "echo start $(date +%s.%N) > t.JOB; sleep 0.4; echo end $(date +%s.%N) >> t.JOB"],
             tmp_path)
    assert out.returncode == 0, out.stderr
    events = []
    for j in range(1, 6):
        lines = (tmp_path / f"t.{j}").read_text().split()
        events += [(float(lines[1]), 1), (float(lines[3]), -1)]
    running, peak = 0, 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_run_pl_plain_form_pipes_and_quoting(tmp_path):
    # what the shell passes for: run.pl log/one.log echo "a  b" \| tr a-z A-Z \> out.txt
    out = sh([UTILS / "run.pl", "log/one.log", "echo", "a  b", "|", "tr", "a-z", "A-Z",
              ">", "out.txt"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.txt").read_text() == "A  B\n"
    assert (tmp_path / "log/one.log").read_text().startswith('# echo "a  b" | tr a-z A-Z > out')
    out = sh([UTILS / "run.pl", "--mem", "4G", "--gpu", "1", "log/two.log", "exit 3"], tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == "run.pl: job failed (exit code 3), log is in log/two.log"


def test_run_pl_pipefail(tmp_path):
    out = sh([UTILS / "run.pl", "log/p.log", "false | cat"], tmp_path)
    assert out.returncode == 1


@pytest.mark.parametrize("args,words", [
    (["JOB=1:2", "log/same.log", "true"], "the log file log/same.log does not contain JOB"),
    (["JOB=3:1", "log/x.JOB.log", "true"], "bad job range"),
    (["log/x.log"], "expected a log file and a command"),
    (["--max-jobs-run", "0", "log/x.log", "true"], "--max-jobs-run needs a positive integer"),
])
def test_run_pl_usage_errors(tmp_path, args, words):
    out = sh([UTILS / "run.pl", *args], tmp_path)
    assert out.returncode == 1 and words in out.stderr


# --------------------------------------------------------------------------- slurm.pl
# Only what a real Slurm cannot show quickly stays here: the exact sbatch argument list of a
# custom --config map, a task killed for time or memory, option errors. Arrays, logs, exit codes,
# scancel, Ctrl-C, %N and the recipes' flags run against a real one-node Slurm in
# tests/foundation/test_slurm_real.py.
FAKE_SBATCH = """#!/usr/bin/env bash
# A fake sbatch: records its arguments, runs the array tasks here in the background.
printf '%s\\n' "$*" >> sbatch.args
array=
for a in "$@"; do case $a in --array=*) array=${a#--array=} ;; esac; done
script=${!#}
range=${array%%\\%*}
for ((i = ${range%-*}; i <= ${range#*-}; i++)); do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=123 bash "$script" > /dev/null 2>&1 &
done
echo "Submitted batch job 123"
"""


@pytest.fixture
def fake_slurm(tmp_path):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "sbatch").write_text(FAKE_SBATCH)
    (bindir / "sbatch").chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}


def test_slurm_pl_success_default_flags_and_config(tmp_path, fake_slurm):
    out = sh([UTILS / "slurm.pl", "log/one.log", "echo", "a b"], tmp_path, env=fake_slurm)
    assert out.returncode == 0, out.stderr
    assert "a b" in (tmp_path / "log/one.log").read_text()
    assert (tmp_path / "sbatch.args").read_text().split()[:2] == ["--export=ALL", "--array=1-1"]
    (tmp_path / "my.conf").write_text("command sbatch --account=lab\noption gpu=* -p gpu "
                                      "--gres=gpu:$0\ndefault mem=2G\noption mem=* --mem=$0\n")
    out = sh([UTILS / "slurm.pl", "--config", "my.conf", "--gpu", "2", "JOB=1:2",
              "log/c.JOB.log", "true"], tmp_path, env=fake_slurm)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "sbatch.args").read_text().splitlines()[-1].split()[:5] == \
        ["--account=lab", "-p", "gpu", "--gres=gpu:2", "--mem=2G"]


def test_slurm_pl_task_killed_by_slurm(tmp_path, fake_slurm):
    # task 2 never runs (as if killed for memory) and squeue no longer lists the job
    bindir = tmp_path / "fakebin"
    (bindir / "sbatch").write_text(FAKE_SBATCH.replace("  SLURM_ARRAY_TASK_ID=$i",
                                                       "  [ $i -eq 2 ] || SLURM_ARRAY_TASK_ID=$i"))
    (bindir / "squeue").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "squeue").chmod(0o755)
    out = sh([UTILS / "slurm.pl", "JOB=1:2", "log/k.JOB.log", "true"], tmp_path,
             env={**fake_slurm, "SLURM_PL_GRACE": "2"})
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "slurm.pl: task 2 of Slurm job 123 ended without an exit status (killed for time or "
        "memory?); see log/q/k.2.out",
        "slurm.pl: job 2 failed (exit code none), log is in log/k.2.log",
        "slurm.pl: 1 / 2 failed, log is in log/k.*.log",
    ]


def test_slurm_pl_errors(tmp_path, fake_slurm):
    out = sh([UTILS / "slurm.pl", "--colour", "red", "log/x.log", "true"], tmp_path,
             env=fake_slurm)
    assert out.returncode == 1
    assert "option --colour is not supported by the built-in config" in out.stderr
    (tmp_path / "fakebin/sbatch").write_text("#!/bin/sh\necho 'sbatch: error: no partition'\n"
                                             "exit 1\n")
    out = sh([UTILS / "slurm.pl", "log/x.log", "true"], tmp_path, env=fake_slurm)
    assert out.returncode == 1 and "submission failed" in out.stderr
    assert "no partition" in out.stderr


# --------------------------------------------------------------------------- data-dir wrappers
@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    utts = [f"{s}-{i}" for s in ("a", "b", "c") for i in (1, 2)]
    (d / "wav.scp").write_text("".join(f"{u} {tmp_path}/a.wav\n" for u in utts))
    (d / "utt2spk").write_text("".join(f"{u} {u[0]}\n" for u in utts))
    return d


def test_validate_data_dir_sh(tmp_path, data):
    out = sh([UTILS / "validate_data_dir.sh", "--no-feats", "--no-text", data], tmp_path)
    assert out.returncode == 0 and out.stderr.strip() == f"{data}: OK (6 utterances, 3 speakers)"
    (data / "utt2spk").write_text((data / "utt2spk").read_text() + "a-1 a\n")
    out = sh([UTILS / "validate_data_dir.sh", data], tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == (f"ERROR (seedkit-validate-data-dir): {data}/utt2spk:7: "
                                  "duplicate key 'a-1' (first on line 1); keys must be unique: "
                                  "remove or rename one of the two lines")


def test_fix_data_dir_sh_counts(tmp_path, data):
    (data / "utt2spk").write_text("z-9 z\n" + (data / "utt2spk").read_text())  # unsorted, extra
    (data / "utt2dur").write_text("a-1 1\nb-1 2\nc-1 3\nc-2 4\n")
    out = sh([UTILS / "fix_data_dir.sh", data], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == f"fix_data_dir: {data}: kept 4 utterances, dropped 3"
    assert (data / "spk2utt").read_text() == "a a-1\nb b-1\nc c-1 c-2\n"


def test_split_subset_copy_sh(tmp_path, data):
    out = sh([UTILS / "split_data.sh", data, "3"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert [(data / f"split3/{i}/spk2utt").read_text() for i in (1, 2, 3)] == \
        ["a a-1 a-2\n", "b b-1 b-2\n", "c c-1 c-2\n"]
    out = sh([UTILS / "split_data.sh", "--per-utt", data, "4"], tmp_path)
    assert out.returncode == 0 and (data / "split4utt/4/utt2spk").read_text() == "c-2 c\n"
    out = sh([UTILS / "split_data.sh", data, "4"], tmp_path)
    assert out.returncode == 1
    assert "cannot split 3 speakers into 4 parts" in out.stderr
    (tmp_path / "list").write_text("b-2\nc-1 extra fields ignored\nzz-1\n")
    out = sh([UTILS / "subset_data_dir.sh", "--utt-list", "list", data, "sub"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "sub/utt2spk").read_text() == "b-2 b\nc-1 c\n"
    assert "(1 listed ids not in" in out.stderr
    out = sh([UTILS / "copy_data_dir.sh", "--utt-prefix", "n-", "--spk-prefix", "n-", data,
              "copy"], tmp_path)
    assert out.returncode == 0 and (tmp_path / "copy/spk2utt").read_text().startswith(
        "n-a n-a-1 n-a-2\n")
    assert sh([UTILS / "validate_data_dir.sh", "copy"], tmp_path).returncode == 0


def test_utt2spk_spk2utt_converters(tmp_path, data):
    out = sh([UTILS / "utt2spk_to_spk2utt.pl", data / "utt2spk"], tmp_path)
    assert out.stdout == "a a-1 a-2\nb b-1 b-2\nc c-1 c-2\n"
    back = sh([UTILS / "spk2utt_to_utt2spk.pl"], tmp_path, input=out.stdout)
    assert back.stdout == (data / "utt2spk").read_text()
    bad = sh([UTILS / "utt2spk_to_spk2utt.pl"], tmp_path, input="a-1 a\nb-1\n")
    assert bad.returncode == 1
    assert bad.stderr.startswith("ERROR (utt2spk_to_spk2utt.pl): -:2: expected '<utt> <spk>'")


# --------------------------------------------------------------------------- filter_scp.pl
def test_filter_scp_keeps_or_excludes_listed_keys_in_input_order(tmp_path):
    (tmp_path / "in.scp").write_text("c 3 x\na 1 y\nb 2 z\n")
    (tmp_path / "ids").write_text("a\nc extra fields\n")
    out = sh([UTILS / "filter_scp.pl", "ids", "in.scp"], tmp_path)
    assert out.returncode == 0 and out.stdout == "c 3 x\na 1 y\n"
    out = sh([UTILS / "filter_scp.pl", "--exclude", "ids", "in.scp"], tmp_path)
    assert out.stdout == "b 2 z\n"
    (tmp_path / "ids2").write_text("2\n")
    out = sh([UTILS / "filter_scp.pl", "-f", "2", "ids2", "in.scp"], tmp_path)
    assert out.stdout == "b 2 z\n"
    out = sh([UTILS / "filter_scp.pl", "no_such_list", "in.scp"], tmp_path)
    assert out.returncode != 0 and out.stderr.startswith("ERROR (filter_scp.pl): no_such_list")


# --------------------------------------------------------------------------- lib/recipe.sh
def lib(cmd: str, tmp_path, **env) -> subprocess.CompletedProcess:
    return sh(["bash", "-c", f". {UTILS}/lib/recipe.sh; {cmd}"], tmp_path,
              env={**os.environ, **env})


def test_stamps_skip_only_matching_work_with_its_outputs(tmp_path):
    (tmp_path / "in.txt").write_text("one\n")
    key1 = lib("key_of opt in.txt", tmp_path).stdout.strip()
    (tmp_path / "in.txt").write_text("two\n")
    key2 = lib("key_of opt in.txt", tmp_path).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key1) and key1 != key2  # a file adds its content
    assert lib("key_of opt other", tmp_path).stdout != lib("key_of opt2 other", tmp_path).stdout
    done = lib(f"mark_done d/.done {key2}; is_done d/.done {key2} in.txt", tmp_path)
    assert done.returncode == 0 and (tmp_path / "d/.done").read_text() == key2 + "\n"
    assert lib(f"is_done d/.done {key1}", tmp_path).returncode != 0  # other key
    assert lib(f"is_done d/.done {key2} missing_output", tmp_path).returncode != 0


def test_job_threads_shares_the_cores_locally_only(tmp_path):
    cores = int(lib("machine_cores", tmp_path).stdout)
    many = lib("job_threads 1", tmp_path, OMP_NUM_THREADS="999").stdout.strip()
    assert int(many) == cores  # capped at the cores on the local back end
    share = lib(f"job_threads {cores * 4}", tmp_path, OMP_NUM_THREADS="4").stdout.strip()
    assert share == "1"
    slurm = lib(f"cmd_backend=slurm; job_threads {cores * 4}", tmp_path, OMP_NUM_THREADS="4")
    assert slurm.stdout.strip() == "4"


def test_subset_scp_refuses_missing_keys_and_writes_nothing(tmp_path):
    (tmp_path / "src.scp").write_text("a A\nb B\nc C\n")
    (tmp_path / "keys").write_text("c x\na y\n")
    ok = lib("subset_scp keys src.scp out/sub.scp", tmp_path)
    assert ok.returncode == 0 and (tmp_path / "out/sub.scp").read_text() == "a A\nc C\n"
    (tmp_path / "keys").write_text("a y\nz y\n")
    bad = lib("subset_scp keys src.scp out/bad.scp", tmp_path)
    assert bad.returncode != 0 and "src.scp:0: lacks keys of keys" in bad.stderr
    assert not (tmp_path / "out/bad.scp").exists()


def test_in_parallel_runs_at_once_keeps_message_order_and_fails_after_all(tmp_path):
    # each run sleeps longer the earlier it comes, so finishing order is the reverse of ARG order;
    # they overlap: "b" starts before "a" ends
    body = ("work() { echo \"start $1 $(date +%s%N)\" >> trace; sleep \"0.$((4 - ${#1}))\"; "
            "echo \"msg $1\" >&2; echo \"end $1 $(date +%s%N)\" >> trace; [ \"$1\" != bad ]; }; ")
    ok = lib(body + "in_parallel --buffer buf work a bb ccc; echo status $?", tmp_path)
    assert ok.returncode == 0 and ok.stdout.strip() == "status 0"
    assert ok.stderr.splitlines() == ["msg a", "msg bb", "msg ccc"]  # ARG order, not end order
    t = {w[0] + w[1]: int(w[2]) for w in (ln.split() for ln in (tmp_path / "trace").read_text()
                                           .splitlines())}
    assert t["startbb"] < t["enda"] and t["startccc"] < t["enda"]  # they ran at once
    assert list((tmp_path / "buf").iterdir()) == []  # buffers removed
    (tmp_path / "trace").unlink()
    bad = lib(body + "in_parallel work bad a; echo not reached", tmp_path)
    assert bad.returncode == 1 and "not reached" not in bad.stdout
    ends = [ln.split()[1] for ln in (tmp_path / "trace").read_text().splitlines()
            if ln.startswith("end")]
    assert sorted(ends) == ["a", "bad"]  # the failure waited for the other run


# --------------------------------------------------------------------------- lib/option_help.sh
def test_option_help_documents_each_option_from_its_comment(tmp_path):
    script = tmp_path / "r.sh"
    script.write_text('#!/usr/bin/env bash\nstage=0          # first stage\n'
                      'sets="a b"       # the sets\n  # more about the sets\nnone=\n'
                      '. utils/parse_options.sh\nlater=1  # not an option\n')
    out = sh(["bash", "-c", f". {UTILS}/lib/option_help.sh; option_help {script}"], tmp_path)
    lines = out.stdout.splitlines()
    assert re.match(r'  --stage 0 +first stage$', lines[1])
    assert re.match(r'  --sets "a b" +the sets$', lines[2])
    assert re.match(r' +more about the sets$', lines[3])
    assert re.match(r'  --none "" *$', lines[4])
    assert "later" not in out.stdout and lines[-1].startswith("  --config FILE")
