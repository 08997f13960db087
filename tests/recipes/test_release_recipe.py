"""The VoxCeleb recipe with the SEED release's checkpoints by their release names: the
enhancement seed defaults to the release's evaluation seed (898 for
``ecapa_SEED_evalseed_898.model``, 2690 for ``resnet34V2_SEED_evalseed_2690.model``) unless
``--seed`` is given; ``--seed-checkpoint release`` picks the file under ``pretrained/``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import test_eval_only
import torch
from release_configs import ECAPA_SEED, official_sd
from test_voxceleb_recipe import RECIPE, run_recipe

from seedkit.embio import read_embeddings, write_embeddings

eval_corpora = test_eval_only.eval_corpora  # that file's module fixture, here too
BACKBONE = "test_tiny_resnet"  # conf/test_tiny.conf: 32-d random-weight ResNetSE34V2


def _fake_embeddings(exp):
    rng = np.random.default_rng(0)
    for x, shape in (("eval_multi", (10, 32)), ("eval_full", (32,))):
        d = exp / BACKBONE / "xvectors" / x
        d.mkdir(parents=True)
        items = [(f"id1000{i}-v-0000{i}", rng.standard_normal(shape)) for i in range(3)]
        write_embeddings(f"ark,scp:{d / 'xvector.ark'},{d / 'xvector.scp'}", items)
        (d / ".done").write_text("fake\n")


def _enhanced(sdir, x):
    return read_embeddings(f"scp:{sdir / 'xvectors' / x / 'xvector.scp'}")


def _direct(model, exp, x, seed, out):
    subprocess.run([sys.executable, "-m", "seedkit.bin.enhance", "--config",
                    str(RECIPE / "conf" / "seed_rdm_mlp3.yaml"), "--seed", str(seed), "--t-star",
                    "50", str(model), f"scp:{exp / BACKBONE / 'xvectors' / x / 'xvector.scp'}",
                    f"ark:{out}"], check=True, capture_output=True)
    return read_embeddings(f"ark:{out}")


@pytest.mark.slow
def test_release_checkpoint_brings_its_eval_seed(tmp_path):
    model = tmp_path / "ecapa_SEED_evalseed_898.model"
    torch.save(official_sd(32), model)  # non-zero output layers: the noise shows
    base = ["--config", "conf/test_tiny.conf", "--stage", "6", "--stop-stage", "6",
            "--seed-checkpoint", str(model)]
    exp = tmp_path / "exp"
    _fake_embeddings(exp)
    proc = run_recipe(*base, "--exp", str(exp))
    assert "enhancement seed 898: the release's evaluation seed" in proc.stderr
    sdir = exp / BACKBONE / "official_ecapa_SEED_evalseed_898"
    for x in ("eval_multi", "eval_full"):
        got, want = _enhanced(sdir, x), _direct(model, exp, x, 898, tmp_path / f"{x}.ark")
        assert set(got) == set(want) and all(np.array_equal(got[k], want[k]) for k in want)
        other = _direct(model, exp, x, 0, tmp_path / f"{x}.0.ark")
        assert not all(np.array_equal(got[k], other[k]) for k in want)
    # --seed given: it wins; and the release's SEED config as --seed-conf (nOut set to the tiny
    # backbone's 32) enhances exactly as the seedkit conf
    exp2 = tmp_path / "exp2"
    _fake_embeddings(exp2)
    conf = tmp_path / "ECAPA_SEED_rdmmlp3.yaml"
    conf.write_text(ECAPA_SEED.replace("nOut: 256", "nOut: 32"))
    proc = run_recipe(*base, "--exp", str(exp2), "--seed", "0", "--seed-conf", str(conf))
    log = exp2 / BACKBONE / "official_ecapa_SEED_evalseed_898" / "xvectors" / "eval_full" / "log"
    assert "release SEED config" in (log / "enhance.log").read_text()
    assert "enhancement seed 0 (--seed; the release evaluated" in proc.stderr
    got = _enhanced(exp2 / BACKBONE / "official_ecapa_SEED_evalseed_898", "eval_full")
    want = _direct(model, exp2, "eval_full", 0, tmp_path / "s0.ark")
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_seed_checkpoint_release_names_the_file(tmp_path):
    """'release' looks for the backbone's release file under pretrained/ (ResNetSE34V2 here)."""
    assert not (RECIPE / "pretrained" / "resnet34V2_SEED_evalseed_2690.model").exists()
    proc = run_recipe("--config", "conf/test_tiny.conf", "--exp", str(tmp_path / "e"),
                      "--stage", "6", "--seed-checkpoint", "release", check=False)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode != 0 and len(errors) == 1
    assert "pretrained/resnet34V2_SEED_evalseed_2690.model:0: SEED checkpoint not found" in \
        errors[0]
    assert not (tmp_path / "e").exists()


PREP = RECIPE / "local" / "prepare_voxsrc23.py"


def _voxsrc23(tmp_path, missing=0):
    root = tmp_path / "vox"
    files = [f"id1000{i}/vid{i}/0000{j}.wav" for i in range(3) for j in range(2)]
    for f in files[missing:]:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_bytes(b"RIFF")
    lst = tmp_path / "voxsrc23_val.txt"
    lst.write_text("".join(f"{int(i == 0)} {files[2 * i]} {files[2 * i + 1 if i == 0 else 4]}\n"
                           for i in range(3)))
    return lst, root


def test_voxsrc23_list_is_converted(tmp_path):
    lst, root = _voxsrc23(tmp_path)
    out = tmp_path / "d"
    r = subprocess.run([sys.executable, str(PREP), str(lst), str(root), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "trials").read_text().splitlines() == [
        "voxsrc23-id10000-vid0-00000 voxsrc23-id10000-vid0-00001 target",
        "voxsrc23-id10001-vid1-00000 voxsrc23-id10002-vid2-00000 nontarget",
        "voxsrc23-id10002-vid2-00000 voxsrc23-id10002-vid2-00000 nontarget"]
    wav = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())
    assert len(wav) == 4 and wav["voxsrc23-id10001-vid1-00000"] == str(
        (root / "id10001/vid1/00000.wav").resolve())
    assert (out / "utt2spk").read_text() == (out / "spk2utt").read_text()


def test_voxsrc23_missing_files_are_counted(tmp_path):
    lst, root = _voxsrc23(tmp_path, missing=2)
    out = tmp_path / "d"
    r = subprocess.run([sys.executable, str(PREP), str(lst), str(root), str(out)],
                       capture_output=True, text=True)
    errs = [s for s in r.stderr.splitlines() if s.startswith("ERROR")]
    assert r.returncode == 1 and len(errs) == 1 and not out.exists()
    assert "2 of the 4 files the list names are missing" in errs[0]
    assert "id10000/vid0/00000.wav" in errs[0]
    # run.sh checks them before anything else when --voxsrc23-root is given
    proc = run_recipe("--config", "conf/test_tiny.conf", "--exp", str(tmp_path / "e"),
                      "--data", str(tmp_path / "data"), "--voxsrc23-trials", str(lst),
                      "--voxsrc23-root", str(root), check=False)
    errs = [s for s in proc.stderr.splitlines() if s.startswith("ERROR")]
    assert proc.returncode != 0 and len(errs) == 1, proc.stderr
    assert "2 of the 4 files" in errs[0]
    assert not (tmp_path / "e").exists() and not (tmp_path / "data").exists()


@pytest.mark.slow
def test_voxsrc23_is_a_third_test_set(tmp_path, eval_corpora):  # noqa: F811
    """An evaluation-only run with --voxsrc23-trials (here the VoxCeleb1-O list of the fixture,
    paths under the VoxCeleb1 copy): the set is prepared, embedded, scored with both protocols
    and reported; its baseline metrics equal VoxCeleb1-O's (same audio, same trials)."""
    import json

    model = tmp_path / "seed32.model"
    torch.save(official_sd(32), model)
    lst = eval_corpora / "voxceleb1" / "veri_test2.txt"
    work = tmp_path / "work"
    run_recipe(*test_eval_only.recipe_args(
        work, "--corpora-on-disk", str(eval_corpora), "--seed-checkpoint", str(model),
        "--test-sets", "vox1_o", "--voxsrc23-trials", str(lst)))
    trials = (work / "data" / "trials" / "voxsrc23").read_text().splitlines()
    assert len(trials) == len(lst.read_text().splitlines())
    assert all(t.startswith("voxsrc23-id") for t in trials)
    scores = work / "exp" / BACKBONE / "scores"
    for protocol in ("seed", "wespeaker"):
        a = json.loads((scores / protocol / "baseline" / "vox1_o" / "metrics.json").read_text())
        b = json.loads((scores / protocol / "baseline" / "voxsrc23" / "metrics.json").read_text())
        same = ("num_trials", "num_target", "eer_percent", "eer_threshold", "min_dcf")
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
        assert (scores / protocol / "official_seed32" / "voxsrc23" / "metrics.json").is_file()
    assert "VoxSRC-23" in (work / "RESULTS.md").read_text()
