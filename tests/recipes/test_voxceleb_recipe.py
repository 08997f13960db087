"""The VoxCeleb recipe (egs/voxceleb/seed/run.sh).

End to end (slow): stages 0-7 on the real-layout fixtures (``seedkit-make-real-layout``; stage 0
only links them, ``--corpora-on-disk``) with the tiny random-weight backbone of
``conf/test_tiny.conf``; every expected file is checked, then a re-run must skip every stage and
touch nothing, and stage 5 runs again through torchrun's c10d rendezvous flags (the multi-node
path, with one node).

Fast: ``--help`` lists the stages and documents every option, every conf key is documented, bad
options fail with one ERROR line, cmd.sh switches between run.pl and slurm.pl.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from seedkit.audio import read_audio
from seedkit.data.datadir import load_data_dir, validate_data_dir
from seedkit.data.trials import read_trials
from seedkit.embio import read_embeddings

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs" / "voxceleb" / "seed"
BACKBONE = "test_tiny_resnet"  # conf/test_tiny.conf's backbone conf name
SEED_NAME = "seed_rdm_mlp3"  # run.sh's default --seed-conf name
TEST_SETS = ("vox1_o", "vcmix")
K_ROUNDS = 2  # conf/test_tiny.conf's aug_rounds


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env.pop("SEEDKIT_CMD", None)
    return env


def run_recipe(*args: str, check: bool = True, env: dict | None = None
               ) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "run.sh", *args], cwd=RECIPE, env=env or _env(),
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}")
    return proc


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file under root (symlinked corpora not followed)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mtime_ns, st.st_size)
    return out


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    """Fixtures written once, the recipe run once (stages 0-7), then re-run once."""
    tmp = tmp_path_factory.mktemp("voxceleb_recipe")
    fixtures = tmp / "fixtures"
    subprocess.run([str(Path(sys.executable).parent / "seedkit-make-real-layout"), "--seed", "3",
                    str(fixtures)], check=True, capture_output=True, env=_env())
    work = tmp / "work"
    args = ["--config", "conf/test_tiny.conf", "--corpora-on-disk", str(fixtures),
            "--corpora", str(work / "corpora"), "--data", str(work / "data"),
            "--exp", str(work / "exp"), "--results", str(work / "RESULTS.md")]
    first = run_recipe(*args)
    before = snapshot(work)
    second = run_recipe(*args)
    after = snapshot(work)
    return {"work": work, "fixtures": fixtures, "args": args, "first": first, "second": second,
            "before": before, "after": after}


# ------------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_stage0_links_the_corpora_on_disk(recipe_run):
    corpora = recipe_run["work"] / "corpora"
    for name, d in (("voxceleb1", "voxceleb1"), ("musan", "musan"), ("rirs_noises", "RIRS_NOISES"),
                    ("librittsr", "LibriTTS_R"), ("librilight", "librilight"),
                    ("voxconverse_sv", "voxconverse_test_SV")):
        assert (corpora / d).is_symlink()
        assert (corpora / d).resolve() == (recipe_run["fixtures"] / d).resolve()
        assert (corpora / f".seedkit_{name}.complete").is_file()


@pytest.mark.slow
def test_stage1_data_dirs_and_trial_lists(recipe_run):
    data = recipe_run["work"] / "data"
    for name in ("voxceleb1_test", "voxconverse_sv", "vcmix", "librittsr_train_clean_100",
                 "librittsr_train_clean_360", "librilight_small", "musan", "rirs"):
        validate_data_dir(data / "local" / name, check_files=False)
        assert (data / "local" / name / "spk2utt").is_file()
    assert list((data / "manifests").glob("*.jsonl.gz"))
    vox = read_trials(data / "trials" / "vox1_o")
    fixture_list = recipe_run["fixtures"] / "voxceleb1" / "veri_test2.txt"
    assert len(vox) == len(fixture_list.read_text().splitlines())
    vox_utts = set(load_data_dir(data / "local" / "voxceleb1_test").utt2spk)
    vc_utts = set(load_data_dir(data / "local" / "voxconverse_sv").utt2spk)
    assert all(t.enroll in vox_utts and t.test in vox_utts for t in vox)
    # VC-Mix: every VoxConverse-SV non-target trial, then every VoxCeleb1-O target trial
    mix = read_trials(data / "trials" / "vcmix")
    vc = read_trials(data / "local" / "voxconverse_sv" / "trials")
    assert [t for t in mix if not t.target] == [t for t in vc if not t.target]
    assert [t for t in mix if t.target] == [t for t in vox if t.target]
    assert all(t.enroll in vc_utts and t.test in vc_utts for t in mix if not t.target)


@pytest.mark.slow
def test_stage2_16k_sets_read_in_place(recipe_run):
    """Default: no 16 kHz copies; 16 kHz wav keeps its path, LibriTTS-R (24 kHz) and Libri-Light
    (FLAC) are resample pipes read in process."""
    data = recipe_run["work"] / "data"
    for name in ("train", "eval", "musan", "rirs", "librittsr_train_clean_100", "voxceleb1_test"):
        dd = validate_data_dir(data / name)
        for entry in list(dd.wav_scp.values())[:3]:
            x, rate = read_audio(entry, 16000)
            assert rate == 16000 and len(x) > 0, (name, entry)
    assert all(v.startswith("seedkit-resample-wav 16000 ") for v in
               load_data_dir(data / "librittsr_train_clean_100").wav_scp.values())
    assert all(sf.info(v).samplerate == 16000 for v in
               load_data_dir(data / "voxceleb1_test").wav_scp.values())
    audio = [p for p in (data / "audio").rglob("*") if p.is_file() and p.parent.name != "log"]
    assert audio == []  # no audio written by stage 2
    train = load_data_dir(data / "train")
    parts = [load_data_dir(data / n) for n in ("librittsr_train_clean_100",
                                               "librittsr_train_clean_360", "librilight_small")]
    assert set(train.utt2spk) == set().union(*(p.utt2spk for p in parts))
    evl = set(load_data_dir(data / "eval").utt2spk)
    for t in TEST_SETS:
        assert all(x.enroll in evl and x.test in evl for x in read_trials(data / "trials" / t))


@pytest.mark.slow
def test_stage3_augmented_pairs(recipe_run):
    """Default mode: render specs, a fresh crop per round, no audio written."""
    data = recipe_run["work"] / "data"
    crops = validate_data_dir(data / "train_crops")
    aug = validate_data_dir(data / "train_aug")
    utts = set(load_data_dir(data / "train").utt2spk)
    # K clean crops per utterance (one per round), and 3 K copies
    assert set(crops.utt2spk) == {f"{u}-clean{k}" for u in utts for k in range(1, K_ROUNDS + 1)}
    assert len(aug) == 4 * K_ROUNDS * len(utts)
    assert set(crops.utt2spk) <= set(aug.utt2spk)
    pairs = dict(line.split() for line in (data / "train_aug" / "utt2clean").read_text()
                 .splitlines())
    assert set(pairs.values()) == set(crops.utt2spk)
    assert set(pairs) == set(aug.utt2spk)
    # a copy is paired with the clean crop of its own round
    assert all(v.rsplit("-clean", 1)[1] == re.search(r"(\d+)$", k).group(1)
               for k, v in pairs.items())
    assert not list((data / "train_aug").rglob("*.wav"))
    assert all(e.startswith("seedkit-render-wav ") for e in aug.wav_scp.values())
    spec = (data / "train_aug" / "render.spec").read_text().splitlines()
    assert len(spec) == len(aug)
    size = sum(f.stat().st_size for d in ("train_aug", "train_crops")
               for f in (data / d).rglob("*") if f.is_file() and "log" not in f.parts)
    assert size / len(aug) < 1024  # <= 1 KB per pair
    assert "backbone passes" in recipe_run["first"].stderr


@pytest.mark.slow
def test_stage3_4_materialised_one_crop_mode(recipe_run, tmp_path):
    """--materialise true --fresh-crops false: wav files of one crop per utterance, embedded."""
    work = recipe_run["work"]
    data, exp = tmp_path / "data", tmp_path / "exp"
    shutil.copytree(work / "data", data, symlinks=True)
    args = list(recipe_run["args"])
    args[args.index("--data") + 1] = str(data)
    args[args.index("--exp") + 1] = str(exp)
    run_recipe(*args, "--stage", "3", "--stop-stage", "4", "--materialise", "true",
               "--fresh-crops", "false")
    crops = validate_data_dir(data / "train_crops")
    aug = validate_data_dir(data / "train_aug")
    assert set(crops.utt2spk) == set(load_data_dir(data / "train").utt2spk)
    assert len(aug) == (3 * K_ROUNDS + 1) * len(crops)
    assert {sf.info(w).frames for w in aug.wav_scp.values()} == {32240}
    emb = read_embeddings(f"scp:{exp / BACKBONE / 'xvectors' / 'train_aug' / 'xvector.scp'}")
    assert set(emb) == set(aug.utt2spk)
    # the crops differ from the default mode's (one crop, other keys): nothing was reused
    assert not set(emb) & {f"{u}-clean1" for u in crops.utt2spk}


@pytest.mark.slow
def test_stage4_embeddings(recipe_run):
    work = recipe_run["work"]
    xv = work / "exp" / BACKBONE / "xvectors"
    for name in ("train_crops", "train_aug"):
        emb = read_embeddings(f"scp:{xv / name / 'xvector.scp'}")
        assert set(emb) == set(load_data_dir(work / "data" / name).utt2spk)
        assert {e.shape for e in emb.values()} == {(32,)}
    # the clean crops are embedded once, inside train_aug; train_crops' scp points there
    assert "train_aug/xvector." in (xv / "train_crops" / "xvector.scp").read_text()
    evl = set(load_data_dir(work / "data" / "eval").utt2spk)
    multi = read_embeddings(f"scp:{xv / 'eval_multi' / 'xvector.scp'}")
    full = read_embeddings(f"scp:{xv / 'eval_full' / 'xvector.scp'}")
    assert set(multi) == set(full) == evl
    assert {e.shape for e in multi.values()} == {(10, 32)}  # 10 x 4.015 s crops
    assert {e.shape for e in full.values()} == {(32,)}


@pytest.mark.slow
def test_stage5_and_6_seed_model_and_enhanced_embeddings(recipe_run):
    bdir = recipe_run["work"] / "exp" / BACKBONE
    sdir = bdir / SEED_NAME
    for f in ("final.pt", "config.yaml", "log/train.log"):
        assert (sdir / f).is_file(), f
    assert "torchrun" in (sdir / "log" / "train.log").read_text()
    cfg = yaml.safe_load((sdir / "config.yaml").read_text())
    assert cfg["epochs"] == 2  # --seed-train-opts reached the trainer
    for x in ("eval_multi", "eval_full"):
        base = read_embeddings(f"scp:{bdir / 'xvectors' / x / 'xvector.scp'}")
        enh = read_embeddings(f"scp:{sdir / 'xvectors' / x / 'xvector.scp'}")
        assert set(enh) == set(base)
        assert all(enh[k].shape == base[k].shape for k in base)
        assert not all(np.allclose(enh[k], base[k]) for k in base)


@pytest.mark.slow
def test_stage7_scores_det_and_results(recipe_run):
    work = recipe_run["work"]
    bdir = work / "exp" / BACKBONE
    for protocol in ("seed", "wespeaker"):
        for system in ("baseline", SEED_NAME):
            for t in TEST_SETS:
                out = bdir / "scores" / protocol / system / t
                trials = read_trials(work / "data" / "trials" / t)
                lines = (out / "scores").read_text().splitlines()
                assert [ln.split()[:2] for ln in lines] == [[x.enroll, x.test] for x in trials]
                m = json.loads((out / "metrics.json").read_text())
                assert m["num_trials"] == len(trials)
                assert set(m["min_dcf"]) == {"0.01", "0.05"}
        for t in TEST_SETS:
            for ext in ("png", "pdf"):
                assert (bdir / "scores" / protocol / f"det_{t}.{ext}").stat().st_size > 0
    text = (bdir / "RESULTS.md").read_text()
    assert (work / "RESULTS.md").read_text() == text
    assert "## SEED protocol" in text and "minDCF@0.05" in text
    assert "## wespeaker protocol" in text and "minDCF@0.01" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| vox1_o") or ln.startswith("| vcmix")]
    assert len(rows) == 2 * len(TEST_SETS) * 2  # protocols x test sets x systems


@pytest.mark.slow
def test_rerun_skips_every_stage_and_touches_nothing(recipe_run):
    assert recipe_run["after"] == recipe_run["before"]
    err = recipe_run["second"].stderr
    for n in range(8):
        assert f"=== stage {n}:" in err
    assert "skipping" in err
    # nothing but skip lines between the stage markers: no tool ran
    assert not re.search(r"^(LOG|INFO) \(", err, re.M), err
    assert "torchrun" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# sbatch stand-in: records its arguments (one line per call), runs the array tasks here.
FAKE_SBATCH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_SBATCH_ARGS"
for a in "$@"; do case $a in --array=*) range=${a#--array=}; range=${range%%\\%*} ;; esac; done
for ((i = ${range%-*}; i <= ${range#*-}; i++)); do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=7 bash "${!#}" > /dev/null 2>&1 &
done
echo "Submitted batch job 7"
"""


@pytest.mark.slow
def test_stage5_through_rendezvous_flags_on_slurm(recipe_run, tmp_path):
    """The multi-node launch (--nnodes, --rdzv-endpoint, --rdzv-id) with one node, and the
    Slurm back end of cmd.sh (a stand-in sbatch) for training and enhancement."""
    src = recipe_run["work"] / "exp" / BACKBONE / "xvectors"
    exp = tmp_path / "exp"
    shutil.copytree(src, exp / BACKBONE / "xvectors", symlinks=True)
    args = [a if a != str(recipe_run["work"] / "exp") else str(exp) for a in recipe_run["args"]]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sbatch").write_text(FAKE_SBATCH)
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    env = _env()
    env.update(SEEDKIT_CMD="slurm", SEEDKIT_SLURM_OPTS="--partition cpu",
               FAKE_SBATCH_ARGS=str(tmp_path / "sbatch.args"),
               PATH=f"{tmp_path / 'bin'}:{env['PATH']}")
    proc = run_recipe(*args, "--stage", "5", "--stop-stage", "6", "--nnodes", "1",
                      "--nproc-per-node", "1", "--rdzv-endpoint", f"127.0.0.1:{_free_port()}",
                      "--rdzv-id", "test-rdzv", env=env)
    calls = (tmp_path / "sbatch.args").read_text().splitlines()
    assert len(calls) == 3  # training, then enhancement of eval_multi and eval_full
    assert all("--partition=cpu" in c and "--array=1-1" in c for c in calls)
    assert "--mem=64G" in calls[0] and "--gres" not in calls[0]  # --device cpu: no GPU asked
    assert "--mem=16G" in calls[1] and "--gres" not in calls[1]
    sdir = exp / BACKBONE / SEED_NAME
    logs = list((sdir / "log").glob("train.*.log"))
    assert len(logs) == 1  # one log per host in multi-node mode
    head = logs[0].read_text().splitlines()[0]
    assert "--rdzv-endpoint" in head and "test-rdzv" in head and "--standalone" not in head
    assert (sdir / "final.pt").is_file()
    assert (sdir / "xvectors" / "eval_full" / "xvector.scp").is_file()
    assert "stage 6 done" in proc.stderr


@pytest.mark.slow
def test_official_seed_checkpoint_is_enhanced_without_training(recipe_run, tmp_path):
    """--seed-checkpoint: a bare RDM-MLP state dict (the official layout) skips training and
    enhances exactly as the seedkit checkpoint holding the same weights."""
    import torch

    work = recipe_run["work"]
    bdir = work / "exp" / BACKBONE
    ckpt = torch.load(bdir / SEED_NAME / "final.pt", weights_only=True)
    bare = tmp_path / "seed_official.model"
    torch.save(dict(ckpt["model"]), bare)
    exp = tmp_path / "exp"
    shutil.copytree(bdir / "xvectors", exp / BACKBONE / "xvectors", symlinks=True)
    args = [a if a != str(work / "exp") else str(exp) for a in recipe_run["args"]]
    proc = run_recipe(*args, "--stage", "5", "--stop-stage", "6", "--seed-checkpoint", str(bare))
    assert "no training" in proc.stderr
    sdir = exp / BACKBONE / "official_seed_official"
    assert not (sdir / "final.pt").exists()
    for x in ("eval_multi", "eval_full"):
        got = read_embeddings(f"scp:{sdir / 'xvectors' / x / 'xvector.scp'}")
        want = read_embeddings(f"scp:{bdir / SEED_NAME / 'xvectors' / x / 'xvector.scp'}")
        assert set(got) == set(want)
        assert all(np.array_equal(got[k], want[k]) for k in want)


# ------------------------------------------------------------------------------ fast checks

RUN_SH = (RECIPE / "run.sh").read_text()


def run_sh_options() -> list[str]:
    """The option variables of run.sh: top-level assignments above parse_options.sh."""
    head = RUN_SH.split(". utils/parse_options.sh")[0]
    names = re.findall(r"^([a-z_][a-z0-9_]*)=", head, re.M)
    return [n for n in dict.fromkeys(names) if n != "help_message"]


def test_help_lists_stages_and_documents_every_option():
    proc = run_recipe("--help")
    out = proc.stdout
    for n in range(8):
        assert re.search(rf"^  {n} \S", out, re.M), f"stage {n} missing from --help"
    documented = out.split("Options (--name value")[1].split("Options (current values")[0]
    for name in run_sh_options():
        assert "--" + name.replace("_", "-") in documented, f"--{name} not documented in --help"
    # every option line of run.sh carries a comment too
    head = RUN_SH.split(". utils/parse_options.sh")[0]
    for line in head.splitlines():
        if re.match(r"^[a-z_]+=", line) and not line.startswith("help_message"):
            assert "#" in line, f"option without a comment: {line}"


def _yaml_keys_with_lines(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1), line) for line in path.read_text().splitlines()
            if (m := re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line))]


def test_every_conf_key_is_documented():
    from seedkit.seed.config import HELP as SEED_HELP

    confs = sorted((RECIPE / "conf").glob("*.yaml"))
    assert {p.name for p in confs} >= {"resnetse34v2.yaml", "ecapa_tdnn.yaml",
                                       "test_tiny_resnet.yaml", "seed_rdm_mlp3.yaml"}
    for conf in confs:
        is_seed = "seed" in conf.name
        for key, line in _yaml_keys_with_lines(conf):
            # a backbone key carries its comment; a SEED key is documented in docs/seed.md
            # (seedkit.seed.config.HELP), which the SEED confs point to
            ok = "#" in line or (is_seed and key in SEED_HELP)
            assert ok, f"{conf.name}: key {key!r} has no comment"
    options = set(run_sh_options())
    for conf in sorted((RECIPE / "conf").glob("*.conf")):
        for line in conf.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name = line.split("=", 1)[0]
            assert name in options, f"{conf.name}: {name} is not a run.sh option"
            assert "#" in line, f"{conf.name}: {name} has no comment"


def test_bad_options_fail_with_one_error_line(tmp_path):
    common = ["--data", str(tmp_path / "d"), "--exp", str(tmp_path / "e"), "--corpora",
              str(tmp_path / "c")]
    cases = [
        (["--no-such-option", "1"], "invalid option --no-such-option"),
        (["--test-sets", "vox1_e"], "unknown test set 'vox1_e'"),
        (["--train-corpora", "vox2"], "unknown corpus 'vox2'"),
        (["--backbone-conf", "conf/nope.yaml"], "conf/nope.yaml:0: backbone conf not found"),
        (["--device", "tpu"], "--device must be auto, cpu or cuda"),
        (["--seed-dev-set", "vcmix", "--test-sets", "vox1_o"], "--seed-dev-set 'vcmix'"),
        (["--stage", "1", "--stop-stage", "1"], "corpus voxceleb1 is not complete"),
    ]
    for args, expected in cases:
        proc = run_recipe(*common, *args, check=False)
        assert proc.returncode != 0, args
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
        assert len(errors) == 1 and expected in errors[0], (args, proc.stderr)
    assert not (tmp_path / "e").exists()


def test_cmd_sh_switches_between_run_pl_and_slurm_pl():
    def cmds(backend: str | None) -> subprocess.CompletedProcess:
        env = _env()
        if backend is not None:
            env["SEEDKIT_CMD"] = backend
        env["SEEDKIT_SLURM_OPTS"] = "--partition gpu"
        return subprocess.run(
            ["bash", "-c", ". ./cmd.sh && echo \"$train_cmd|$extract_cmd|$seed_cmd|$cuda_cmd\""],
            cwd=RECIPE, env=env, capture_output=True, text=True)

    local = cmds(None).stdout.strip().split("|")
    assert local == ["run.pl"] * 4
    slurm = cmds("slurm").stdout.strip().split("|")
    assert all(c.startswith("slurm.pl --partition gpu") for c in slurm)
    assert not any("--gpu" in c for c in slurm)  # run.sh adds it, from --device
    bad = cmds("sge")
    assert bad.returncode != 0 and bad.stderr.startswith("ERROR (cmd.sh)")


def test_combine_data_gives_unsegmented_sources_whole_recording_segments(tmp_path):
    """utils/combine_data.sh: LibriTTS-R (no segments) + Libri-Light cut at voice activity."""
    from collections import OrderedDict

    from seedkit.data.datadir import DataDir, write_data_dir

    whole = DataDir(wav_scp=OrderedDict(a1=str(tmp_path / "a1.wav"), a2=str(tmp_path / "a2.wav")),
                    utt2spk=OrderedDict(a1="a", a2="a"),
                    utt2dur=OrderedDict(a1=2.5, a2=3.0))
    cut = DataDir(wav_scp=OrderedDict(r=str(tmp_path / "r.flac")),
                  utt2spk=OrderedDict([("r-0", "r"), ("r-1", "r")]),
                  utt2dur=OrderedDict([("r-0", 1.0), ("r-1", 2.0)]),
                  segments=OrderedDict([("r-0", ("r", 0.5, 1.5)), ("r-1", ("r", 2.0, 4.0))]))
    write_data_dir(whole, tmp_path / "whole")
    write_data_dir(cut, tmp_path / "cut")
    proc = subprocess.run(["bash", "utils/combine_data.sh", str(tmp_path / "out"),
                           str(tmp_path / "whole"), str(tmp_path / "cut")],
                          cwd=RECIPE, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = load_data_dir(tmp_path / "out")
    assert dict(out.segments) == {"a1": ("a1", 0.0, 2.5), "a2": ("a2", 0.0, 3.0),
                                  "r-0": ("r", 0.5, 1.5), "r-1": ("r", 2.0, 4.0)}
    assert set(out.wav_scp) == {"a1", "a2", "r"}
    assert not list(tmp_path.glob(".out.segmented"))
    # a key in two sources is refused with one ERROR line
    proc = subprocess.run(["bash", "utils/combine_data.sh", str(tmp_path / "out2"),
                           str(tmp_path / "whole"), str(tmp_path / "whole")],
                          cwd=RECIPE, env=_env(), capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("ERROR (seedkit-combine-data-dir)")
