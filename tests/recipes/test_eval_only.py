"""Evaluation-only runs of the VoxCeleb recipe (``--seed-checkpoint`` or ``--eval-only true``):
only VoxCeleb1's test part and VoxConverse-SV are fetched or read; no training corpus, no
augmentation, no training; bad models and absent corpora fail before any download.

The end-to-end run (slow) uses the real-layout fixtures with *only* ``voxceleb1/`` and
``voxconverse_test_SV/`` beside each other, the tiny random backbone of ``conf/test_tiny.conf`` and
a bare RDM-MLP state dict (the official SEED checkpoint layout) of the backbone's size.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from archive_server import archive_server
from test_voxceleb_recipe import RECIPE, run_recipe, snapshot

from seedkit.corpus import real_layout as rl
from seedkit.errors import SeedkitError
from seedkit.prepare import download
from seedkit.seed.config import merge_config, read_config_file, resolve_dims
from seedkit.seed.diffusion import SeedDiffusion

BACKBONE = "test_tiny_resnet"


def bare_seed_model(path: Path, dim: int) -> Path:
    """An official-layout SEED checkpoint (bare RDM-MLP state dict) for ``dim``-d embeddings."""
    cfg = resolve_dims(merge_config(read_config_file(RECIPE / "conf" / "seed_rdm_mlp3.yaml")), dim)
    torch.manual_seed(0)
    torch.save(SeedDiffusion(cfg).net.state_dict(), path)
    return path


def recipe_args(work: Path, *more: str) -> list[str]:
    return ["--config", "conf/test_tiny.conf", "--corpora", str(work / "corpora"),
            "--data", str(work / "data"), "--exp", str(work / "exp"),
            "--results", str(work / "RESULTS.md"), *more]


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]


def results_numbers(text: str, test_sets=("vox1_o", "vcmix")) -> list[tuple]:
    """The rows of a RESULTS.md's tables (``| test set | system | trials | EER (%) | rel. |
    minDCF@p | rel. |``, one table per protocol) as ``(test set, system, trials, EER, minDCF)``;
    raises AssertionError when a cell is not a finite number in its range: trials >= 1, EER in
    [0, 100] %, minDCF in [0, 1] (c_miss = c_fa = 1), rel. ``-`` for the baseline and a
    signed percentage otherwise."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] not in test_sets:
            continue
        assert len(cells) == 7, line
        test_set, system, trials, eer, rel_eer, dcf, rel_dcf = cells
        trials_n, eer_v, dcf_v = int(trials), float(eer.split()[0]), float(dcf.split()[0])
        assert trials_n >= 1, line
        assert math.isfinite(eer_v) and 0.0 <= eer_v <= 100.0, line
        assert math.isfinite(dcf_v) and 0.0 <= dcf_v <= 1.0, line
        for rel in (rel_eer, rel_dcf):
            assert rel == "-" if system.startswith("**") else re.fullmatch(
                r"[+-]\d+\.\d%", rel.split(" [")[0]), line
        rows.append((test_set, system.strip("*"), trials_n, eer_v, dcf_v))
    return rows


def test_results_numbers_refuses_what_is_not_a_number():
    good = ("| vox1_o | **baseline** | 40 | 25.000 | - | 0.9500 | - |\n"
            "| vox1_o | seed | 40 | 20.000 | -20.0% | 0.9000 | -5.3% |\n")
    assert results_numbers(good) == [("vox1_o", "baseline", 40, 25.0, 0.95),
                                     ("vox1_o", "seed", 40, 20.0, 0.9)]
    for bad in (good.replace("20.000", "nan"), good.replace("0.9000", "inf"),
                good.replace("20.000", "120.000"), good.replace("0.9000", "1.2000"),
                good.replace("-20.0%", "n/a"), good.replace("| 40 | 20", "| 0 | 20")):
        with pytest.raises(AssertionError):
            results_numbers(bad)


# ------------------------------------------------------------------------ download: test part only

def test_voxceleb1_test_part_alone_is_downloaded(tmp_path, monkeypatch):
    from lhotse.recipes.voxceleb import VOXCELEB1_PARTS_URL

    rl.write_voxceleb1(tmp_path / "src", n_dev=1, n_test=2, videos=1, utts=2)
    test_zip = tmp_path / "test.zip"
    import zipfile

    with zipfile.ZipFile(test_zip, "w") as zf:
        for p in sorted((tmp_path / "src" / "wav").rglob("*.wav")):
            zf.write(p, str(p.relative_to(tmp_path / "src")))
    files = {VOXCELEB1_PARTS_URL[4]: test_zip.read_bytes(),
             VOXCELEB1_PARTS_URL[5]: (tmp_path / "src" / "vox1_meta.csv").read_bytes(),
             download.VOX1_TRIALS_URL: (tmp_path / "src" / "veri_test2.txt").read_bytes()}
    asked = archive_server(monkeypatch, files)
    dest = download.ensure_corpus("voxceleb1", tmp_path / "corpora", parts=("test",))
    assert len(asked) == 3, asked  # no dev piece was requested
    assert not any("dev" in str(u) for u in asked)
    assert (dest / "vox1_meta.csv").is_file() and (dest / "veri_test2.txt").is_file()
    assert any((dest / "wav").rglob("*.wav"))
    marker = download.marker_path(tmp_path / "corpora", "voxceleb1")
    assert download.marker_parts(marker) == {"test"}
    download.ensure_corpus("voxceleb1", tmp_path / "corpora", parts=("test",))
    assert len(asked) == 3  # complete for the test part: nothing fetched again
    # asking for the dev part too fetches what the marker does not cover
    with pytest.raises(SeedkitError):
        download.ensure_corpus("voxceleb1", tmp_path / "corpora")  # dev pieces are not served
    assert any("vox1_dev_wav_part" in str(u) for u in asked[3:])


def test_voxceleb1_parts_are_checked(tmp_path):
    with pytest.raises(SeedkitError, match="dev and/or test"):
        download.ensure_corpus("voxceleb1", tmp_path / "c", parts=("train-clean-100",))


# ------------------------------------------------------------------------ bad input, before stage 0

@pytest.fixture(scope="module")
def eval_corpora(tmp_path_factory):
    """The real-layout fixtures, reduced to the two evaluation corpora."""
    tmp = tmp_path_factory.mktemp("eval_only")
    full = tmp / "full"
    subprocess.run([str(Path(sys.executable).parent / "seedkit-make-real-layout"), "--seed", "3",
                    str(full)], check=True, capture_output=True)
    only = tmp / "eval_corpora"
    only.mkdir()
    for d in ("voxceleb1", "voxconverse_test_SV"):
        (full / d).rename(only / d)
    return only


def test_seed_model_of_another_size_fails_before_any_download(tmp_path):
    ckpt = bare_seed_model(tmp_path / "seed64.model", 64)  # the tiny backbone makes 32-d
    proc = run_recipe(*recipe_args(tmp_path, "--seed-checkpoint", str(ckpt)), check=False)
    errors = _error_lines(proc)
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr[-3000:]
    assert str(ckpt) in errors[0] and "64-d" in errors[0] and "32-d" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "corpora").exists()  # nothing was fetched or linked


def test_backbone_checkpoint_that_does_not_fit_fails_before_any_download(tmp_path):
    bad = tmp_path / "wrong_backbone.model"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, bad)
    ckpt = bare_seed_model(tmp_path / "seed32.model", 32)
    proc = run_recipe(*recipe_args(tmp_path, "--seed-checkpoint", str(ckpt),
                                   "--backbone-checkpoint", str(bad)), check=False)
    errors = _error_lines(proc)
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr[-3000:]
    assert str(bad) in errors[0]
    assert not (tmp_path / "corpora").exists()


def test_eval_only_without_a_model_is_refused(tmp_path):
    proc = run_recipe(*recipe_args(tmp_path, "--eval-only", "true"), check=False)
    errors = _error_lines(proc)
    assert proc.returncode != 0 and len(errors) == 1
    assert "final.pt" in errors[0] and "--seed-checkpoint" in errors[0]
    proc = run_recipe(*recipe_args(tmp_path, "--eval-only", "maybe"), check=False)
    assert proc.returncode != 0 and "--eval-only must be" in _error_lines(proc)[0]


def test_absent_evaluation_corpus_fails_before_any_download(tmp_path, eval_corpora):
    ckpt = bare_seed_model(tmp_path / "seed32.model", 32)
    proc = run_recipe(*recipe_args(tmp_path, "--seed-checkpoint", str(ckpt),
                                   "--voxceleb1-on-disk", str(tmp_path / "no_such_dir"),
                                   "--voxconverse-sv-on-disk",
                                   str(eval_corpora / "voxconverse_test_SV")), check=False)
    errors = _error_lines(proc)
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr[-3000:]
    assert "no_such_dir" in errors[0]
    assert "downloading" not in proc.stderr


# ------------------------------------------------------------------------ end to end (slow)

@pytest.mark.slow
def test_eval_only_run_reads_only_the_evaluation_corpora(tmp_path, eval_corpora):
    ckpt = bare_seed_model(tmp_path / "seed32.model", 32)
    work = tmp_path / "work"
    args = recipe_args(work, "--corpora-on-disk", str(eval_corpora), "--seed-checkpoint",
                       str(ckpt))
    first = run_recipe(*args)
    log = first.stderr
    assert "evaluation only" in log
    for c in ("musan", "rirs_noises", "librittsr", "librilight"):
        assert f"  {c}: " not in log  # not in the plan's list of corpora to fetch
        assert not (work / "corpora" / f".seedkit_{c}.complete").exists()
    assert "skipped: musan, rirs_noises, librittsr, librilight" in log
    data = work / "data"
    prepared = sorted(p.name for p in (data / "local").iterdir()
                      if p.is_dir() and p.name not in {"log", ".prepare"})
    # the on-disk copy's dev speakers get a manifest (no audio is touched); a downloaded copy
    # has only the test part
    assert set(prepared) - {"voxceleb1_dev"} == {"vcmix", "voxceleb1_test", "voxconverse_sv"}
    for absent in ("train", "train_aug", "train_crops", "musan", "rirs"):
        assert not (data / absent).exists(), absent
    bdir = work / "exp" / BACKBONE
    assert sorted(p.name for p in (bdir / "xvectors").iterdir()) == ["eval_full", "eval_multi"]
    sdir = bdir / "official_seed32"
    assert not (sdir / "final.pt").exists()
    for x in ("eval_full", "eval_multi"):
        assert (sdir / "xvectors" / x / "xvector.scp").is_file()
    results = (work / "RESULTS.md").read_text()
    # both protocols' tables: each test set, baseline and SEED, finite numbers in range
    rows = results_numbers(results)
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        [(t, s) for t in ("vox1_o", "vcmix") for s in ("baseline", "official_seed32")] * 2)
    # a second run skips every stage and touches nothing
    before = snapshot(work)
    second = run_recipe(*args)
    assert snapshot(work) == before
    assert "downloading" not in second.stderr and "=== stage 3" in second.stderr
    assert second.stderr.count("skipping") >= 8


def test_corpus_plan_says_what_each_corpus_costs(tmp_path):
    from seedkit.prepare.plan import corpus_plan

    (tmp_path / ".seedkit_voxceleb1.complete").write_text("downloaded\n")
    lines = corpus_plan(tmp_path, [("voxceleb1", ""), ("voxconverse_sv", "/data/vc"),
                                   ("librittsr", ""), ("musan", "")],
                        librittsr_parts=["train-clean-100"], eval_only=False)
    assert lines[0] == "corpora plan (training and evaluation):"
    assert lines[1] == f"  voxceleb1: complete in {tmp_path} (nothing to fetch)"
    assert lines[2] == "  voxconverse_sv: read from /data/vc (linked, not downloaded)"
    assert lines[3] == "  librittsr: download, ~8 GB (train-clean-100)"
    assert lines[4] == "  musan: download, ~11 GB"
    assert len(lines) == 5
    lines = corpus_plan(tmp_path / "empty", [("voxceleb1", "")], eval_only=True)
    assert lines[1].startswith("  voxceleb1: download, ~1 GB")
    assert lines[-1].startswith("  skipped: musan, rirs_noises, librittsr, librilight")
