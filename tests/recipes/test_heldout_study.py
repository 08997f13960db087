"""egs/mini/seed/local/heldout_study.py: its options are checked before any work (one ERROR line
each), and its table reads the study's layout: systems per feature-ensemble value and SEED of
other work dirs (``--compare``), with differences to the first value's SEED (release)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "egs" / "mini" / "seed" / "local" / "heldout_study.py"
SETS = ("heldout_clean", "heldout_mix", "heldout_rev0", "heldout_snr5",
        "eval_clean", "eval_mix", "eval_snr0", "eval_snr5")


def recipe_dir(tmp: Path) -> Path:
    """The two files the script looks for before it starts, in an otherwise empty recipe dir."""
    (tmp / "data/eval_all").mkdir(parents=True)
    (tmp / "data/eval_all/.done").write_text("")
    (tmp / "corpus").mkdir()
    (tmp / "corpus/corpus.json").write_text("{}")
    return tmp


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, words", [
    (["--compare", "/no/such/work:40 x 20"], "--compare /no/such/work:40 x 20:0: give WORK:LABEL"),
    (["--compare", "nolabel"], "--compare nolabel:0: give WORK:LABEL"),
    (["--feature-ensemble", "a,b"], "--feature-ensemble a,b:0: give comma-separated values"),
    (["--feature-ensemble", "-1"], "--feature-ensemble -1:0: give comma-separated values"),
    (["--regression-feature-ensemble", ""], "--regression-feature-ensemble :0: give"),
])
def test_bad_options_one_error_line_before_any_work(tmp_path, args, words):
    cwd = recipe_dir(tmp_path)
    proc = run(cwd, "--work", str(tmp_path / "w"), *args)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR (heldout_study): "), proc.stderr
    assert words in lines[0]
    assert not (tmp_path / "w").exists()  # nothing made


def test_outside_a_recipe_dir_is_one_error_line(tmp_path):
    proc = run(tmp_path, "--work", str(tmp_path / "w"))
    assert proc.returncode != 0 and "run './run.sh --stop-stage 2'" in proc.stderr
    assert not (tmp_path / "w").exists()


def _write_set(root: Path, name: str, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    d = (root / "heldout/eval_sets" / name) if name.startswith("heldout") else root / "data" / name
    d.mkdir(parents=True, exist_ok=True)
    utts = [f"s{s}-u{u}" for s in range(6) for u in range(4)]
    (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    trials, labels = [], []
    for i, a in enumerate(utts):
        for b in utts[i + 1:]:
            same = a.split("-")[0] == b.split("-")[0]
            trials.append(f"{a} {b} {'target' if same else 'nontarget'}")
            labels.append(int(same))
    (d / "trials").write_text("".join(t + "\n" for t in trials))
    return trials, labels


def _write_scores(d: Path, trials: list[str], labels: list[int], sep: float,
                  rng: np.random.Generator) -> None:
    d.mkdir(parents=True, exist_ok=True)
    s = rng.normal(size=len(trials)) + sep * np.asarray(labels)
    (d / "scores").write_text("".join(f"{t.split()[0]} {t.split()[1]} {v:.6f}\n"
                                      for t, v in zip(trials, s)))


def test_table_has_every_feature_ensemble_and_compared_system(tmp_path):
    cwd = recipe_dir(tmp_path / "recipe")
    work, other = tmp_path / "w", tmp_path / "other"
    rng = np.random.default_rng(0)
    for root in (work, other):
        (root / "heldout").mkdir(parents=True)
        (root / "heldout/heldout.json").write_text('{"seed": 1}')
    for x in SETS:
        trials, labels = _write_set(work if x.startswith("heldout") else cwd, x, rng)
        _write_scores(work / "scores" / x, trials, labels, 1.0, rng)  # frozen
        for seed in (0, 1):
            for fe, sep in ((0.5, 3.0), (1.0, 2.0)):
                _write_scores(work / f"exp/seed_release/seed{seed}/fe{fe:g}/scores" / x,
                              trials, labels, sep, rng)
                _write_scores(other / f"exp/seed_release/seed{seed}/fe{fe:g}/scores" / x,
                              trials, labels, sep - 1.5, rng)
            _write_scores(work / f"exp/regression_release/seed{seed}/fe0/scores" / x,
                          trials, labels, 1.5, rng)
    proc = run(cwd, "--work", str(work), "--table-only", "--policies", "release",
               "--feature-ensemble", "0.5,1", "--regression-feature-ensemble", "0",
               "--resamples", "50", "--compare", f"{other}:fewer voices")
    assert proc.returncode == 0, proc.stderr
    text = (work / "table.md").read_text()
    held = text.split("### In-domain")[0]  # the held-out block: one row per system
    rows = {ln.split("|")[1].strip(): ln for ln in held.splitlines()
            if ln.startswith("| ") and "seeds" not in ln}
    for name in ("frozen baseline", "regression (fe 0)", "SEED, release (fe 0.5)",
                 "SEED, release (fe 1)", "SEED, release (fe 0.5), fewer voices",
                 "SEED, release (fe 1), fewer voices"):
        assert name in rows, text
    # the reference of 'vs release' is the first value's SEED; the weaker systems are behind it
    assert "vs release" not in rows["SEED, release (fe 0.5)"]
    cell = rows["SEED, release (fe 0.5), fewer voices"].split("|")[3]
    diff = float(cell.split("vs release ")[1].split()[0])
    assert diff > 0
    # another study's held-out sets are refused
    (other / "heldout/heldout.json").write_text('{"seed": 2}')
    proc = run(cwd, "--work", str(work), "--table-only", "--resamples", "50",
               "--compare", f"{other}:fewer voices")
    assert proc.returncode != 0 and "other held-out sets than this study's" in proc.stderr
