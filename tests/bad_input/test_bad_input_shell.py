"""Shell tools on bad input: run.pl's JOB spec, the recipes' option ranges, the ERROR form; and
run.pl's job concurrency, which must not follow OMP_NUM_THREADS."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UTILS = REPO / "utils"


def _run(args, cwd, env=None, timeout=60):
    full = dict(os.environ, **(env or {}))
    return subprocess.run([str(a) for a in args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout)


def _one_error(stderr: str, prog: str) -> str:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"ERROR ({prog}): "), errors[0]
    assert "Traceback" not in stderr
    return errors[0]


@pytest.mark.parametrize("spec", ["JOB=1:x", "JOB=a:3", "JOB=1:", "JOB=:4", "JOB=1:2:3",
                                  "JOB=-1:3", "JOB=1:4x"])
def test_run_pl_refuses_bad_job_spec(tmp_path, spec):
    out = _run([UTILS / "run.pl", spec, "log/x.JOB.log", "touch", "ran"], tmp_path)
    assert out.returncode == 1
    line = _one_error(out.stderr, "run.pl")
    assert f"bad job spec '{spec}'" in line
    assert not (tmp_path / "ran").exists() and not (tmp_path / "log").exists()


def test_run_pl_and_slurm_pl_usage_errors_in_error_form(tmp_path):
    for tool in ("run.pl", "slurm.pl"):
        out = _run([UTILS / tool, "log/x.log"], tmp_path)
        assert out.returncode == 1
        _one_error(out.stderr, tool)


def _cores() -> int:
    return int(subprocess.run(["env", "-u", "OMP_NUM_THREADS", "-u", "OMP_THREAD_LIMIT", "nproc"],
                              capture_output=True, text=True).stdout)


def test_run_pl_jobs_overlap_with_omp_num_threads_1(tmp_path):
    """Two 'sleep 2' jobs run at the same time although OMP_NUM_THREADS=1 (nproc obeys it)."""
    job = "date +%s.%N > start.JOB; sleep 2; date +%s.%N > end.JOB"
    out = _run([UTILS / "run.pl", "JOB=1:2", "log/s.JOB.log", job], tmp_path,
               env={"OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"})
    assert out.returncode == 0, out.stderr
    start = [float((tmp_path / f"start.{i}").read_text()) for i in (1, 2)]
    end = [float((tmp_path / f"end.{i}").read_text()) for i in (1, 2)]
    overlap = max(start) < min(end)
    # with one usable core run.pl rightly runs them one after the other
    assert overlap == (_cores() >= 2), (start, end, _cores())


def test_machine_cores_ignores_omp(tmp_path):
    out = _run(["bash", "-c", f". {UTILS}/lib/cores.sh; machine_cores"], tmp_path,
               env={"OMP_NUM_THREADS": "1"})
    assert int(out.stdout) == _cores()



def test_augment_policy_is_empty_a_file_or_one_error(tmp_path):
    """recipe.sh's augment_policy (stage 3 of both recipes): no policy, a policy file's option, or
    one ERROR line naming the missing file."""
    (tmp_path / "p.yaml").write_text("")
    lib = UTILS / "lib" / "recipe.sh"
    out = _run(["bash", "-c", f". {lib}; augment_policy ''; echo \"[${{policy[*]}}]\"; "
                f"augment_policy p.yaml; echo \"[${{policy[*]}}]\""], tmp_path)
    assert out.returncode == 0 and out.stdout == "[]\n[--augment-conf p.yaml]\n", out
    out = _run(["bash", "-c", f". {lib}; augment_policy nope.yaml; echo reached"], tmp_path)
    assert out.returncode == 1 and "reached" not in out.stdout
    assert _one_error(out.stderr, "bash").endswith(
        "nope.yaml:0: augmentation policy not found; give a file like "
        "conf/augment_release.yaml (--augment-conf)")

RECIPE_BAD = [
    (["--stage", "9"], "outside this recipe's stages 0..7"),
    (["--stop-stage", "8"], "outside this recipe's stages 0..7"),
    (["--stage", "-1"], "outside this recipe's stages"),
    (["--stage", "two"], "must be an integer stage number"),
    (["--stage", "5", "--stop-stage", "2"], "nothing would run"),
    (["--nj", "0"], "--nj must be >= 1"),
    (["--nj", "2x"], "--nj must be an integer"),
    (["--seed", "-5"], "--seed must be >= 0"),
    (["--aug-rounds", "99999999999999999999"], "out of range"),
    (["--crop-sec", "-2"], "--crop-sec must be a positive number"),
    (["--crop-sec", "nan"], "--crop-sec must be a positive number"),
]
MINI_BAD = [
    (["--p-target", "0.01,2"], "strictly between 0 and 1"),
    (["--nproc", "0"], "--nproc must be >= 1"),
    (["--t-star", "x"], "--t-star must be an integer"),
    (["--device", "tpu"], "--device must be"),
    (["--mini-size", "huge"], "unknown --mini-size"),
    (["--allow-random-backbone", "yes"], "true or false"),
    (["--seed-conf", "nope.yaml"], "conf file not found"),
]
VOX_BAD = [
    (["--p-target-wespeaker", "1"], "strictly between 0 and 1"),
    (["--extract-nj", "-2"], "--extract-nj must be >= 1"),
    (["--eval-crops", "0"], "--eval-crops must be >= 1"),
    (["--nproc-per-node", "0"], "--nproc-per-node must be >= 1"),
    (["--eval-crop-sec", "0"], "--eval-crop-sec must be a positive number"),
    (["--librilight-segments", "maybe"], "true or false"),
    (["--test-sets", "vox2"], "unknown test set"),
    (["--device", "tpu"], "--device must be"),
]


def _recipe_case(recipe, args, words, tmp_path, prog="run.sh"):
    work = REPO / "egs" / recipe / "seed"
    out = _run(["./run.sh", *args], work, timeout=60)
    assert out.returncode == 1, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    line = errors[0]
    assert prog is None or line.startswith(f"ERROR ({prog}): "), line
    assert words in line, line
    return out


@pytest.mark.parametrize("args,words", RECIPE_BAD + MINI_BAD,
                         ids=[" ".join(a) for a, _ in RECIPE_BAD + MINI_BAD])
def test_mini_recipe_refuses(args, words, tmp_path):
    _recipe_case("mini", args, words, tmp_path)


@pytest.mark.parametrize("args,words", RECIPE_BAD + VOX_BAD,
                         ids=[" ".join(a) for a, _ in RECIPE_BAD + VOX_BAD])
def test_voxceleb_recipe_refuses(args, words, tmp_path):
    _recipe_case("voxceleb", args, words, tmp_path)


@pytest.mark.parametrize("kind", ["png", "dropout", "gzip"])
def test_recipes_check_confs_before_any_work(tmp_path, kind):
    import gzip

    bad = tmp_path / "conf.yaml"
    bad.write_bytes({"png": b"\x89PNG\r\n\x1a\n\x00\x00", "dropout": b"dropout: 1.5\n",
                     "gzip": gzip.compress(b"lr: 1.0e-3\n")}[kind])
    words = {"png": "PNG image", "dropout": "dropout must be in", "gzip": "gunzip"}[kind]
    for recipe, stage in (("mini", "7"), ("voxceleb", "5")):
        out = _recipe_case(recipe, ["--seed-conf", bad, "--stage", stage, "--stop-stage", stage],
                           words, tmp_path)
        assert str(bad) in out.stderr
    out = _recipe_case("mini", ["--backbone-conf", bad, "--stage", "4", "--stop-stage", "4"],
                       "", tmp_path, prog=None)
    assert str(bad) in out.stderr


@pytest.mark.parametrize("args,words", [
    (["--foo", "1"], "invalid option --foo"),
    (["--nj"], "needs a value"),
    (["extra"], "unexpected argument"),
])
def test_recipes_bad_command_line(args, words, tmp_path):
    for recipe in ("mini", "voxceleb"):
        _recipe_case(recipe, args, words, tmp_path)


# --------------------------------------------------------------------------- data-dir wrappers
def _data(root: Path) -> Path:
    import numpy as np
    import soundfile as sf

    d = root / "data"
    d.mkdir()
    for u in ("s1-a", "s1-b", "s2-a", "s2-b"):
        sf.write(root / f"{u}.wav", 0.1 * np.ones(4000), 16000, subtype="PCM_16")
    (d / "wav.scp").write_text("".join(f"{u} {root / u}.wav\n" for u in
                                       ("s1-a", "s1-b", "s2-a", "s2-b")))
    (d / "utt2spk").write_text("s1-a s1\ns1-b s1\ns2-a s2\ns2-b s2\n")
    return d


_VENV_ENV = {"PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}


def test_wrappers_report_the_job_error_in_one_line(tmp_path):
    d = _data(tmp_path)
    bad = tmp_path / "bb.yaml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    out = _run([UTILS / "extract_embeddings.sh", "--nj", "2", "--config", bad, d, "xv"],
               tmp_path, env=_VENV_ENV, timeout=120)
    assert out.returncode == 1
    line = _one_error(out.stderr, "extract_embeddings.sh")
    assert f"{bad}:0:" in line and "PNG image" in line and "xv/log/extract." in line
    assert not (tmp_path / "xv" / "xvector.scp").exists()
    (d / "wav.scp").write_text((d / "wav.scp").read_text().replace("s2-b ", "s2-c "))
    out = _run([UTILS / "resample_data_dir.sh", "--nj", "2", d, "out", "wavs"], tmp_path,
               env=_VENV_ENV, timeout=120)
    assert out.returncode == 1
    line = _one_error(out.stderr, "resample_data_dir.sh")
    assert "wav.scp" in line and "utt2spk" in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tool", ["utt2spk_to_spk2utt.pl", "spk2utt_to_utt2spk.pl"])
def test_perl_converters_missing_and_binary(tmp_path, tool):
    out = _run([UTILS / tool, "nope"], tmp_path)
    assert out.returncode == 1 and "nope:0: file not found" in _one_error(out.stderr, tool)
    (tmp_path / "bin").write_bytes(b"a\x00b\n\x89PNG")
    out = subprocess.run([str(UTILS / tool), "bin"], cwd=tmp_path, capture_output=True)
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith(b"ERROR (")]
    assert out.returncode == 1 and len(errors) == 1
