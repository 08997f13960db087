"""Shared test helpers: where the reference fixtures live, small data builders, and the one
finished tiny run of the mini recipe that the slow recipe tests copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MINI_RECIPE = REPO / "egs" / "mini" / "seed"


def reference_dir() -> Path:
    """``tests/data/reference``: outputs of the original SEED code and resemblyzer (its README)."""
    return Path(__file__).resolve().parent / "data" / "reference"


@lru_cache(maxsize=None)
def load_reference(name: str) -> dict:
    """Parse a reference JSON fixture once per test session."""
    with open(reference_dir() / name, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def venv_bin() -> Path:
    """The directory holding the console scripts."""
    return Path(sys.executable).parent


# ---------------------------------------------------------------- the mini recipe: working copies

def make_workdir(dest: Path) -> Path:
    """A working copy of the mini recipe: symlinks to run.sh, path.sh, cmd.sh, local/, conf/,
    utils/ (as Kaldi users link steps/ and utils/), so the checkout's egs/mini/seed stays
    untouched."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("run.sh", "path.sh", "cmd.sh", "local", "conf", "utils"):
        os.symlink(MINI_RECIPE / name, dest / name)
    return dest


def run_recipe(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``./run.sh ARGS`` in ``workdir``, its output kept in ``run.<N>.log`` (N: runs so far)."""
    proc = subprocess.run(["./run.sh", *args], cwd=workdir, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    (workdir / f"run.{len(list(workdir.glob('run.*.log')))}.log").write_text(proc.stdout)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({proc.returncode}):\n"
                             + proc.stdout[-4000:])
    return proc


def copy_run(src: Path, dest: Path, *remove: str, logs: bool = False) -> Path:
    """A working copy of the finished run ``src``: its files copied (a test's writes never reach
    ``src``), the recipe's files and the corpus linked (stages 0-1 only read the corpus), its
    ``run.*.log`` copied only with ``logs``; then the paths in ``remove`` (relative to the copy:
    a stage's outputs, RESULTS.md) deleted, so a run there redoes that work. The copy's stamps
    equal ``src``'s: a run there skips every stage whose outputs are left."""
    skip = ("corpus",) if logs else ("corpus", "run.*.log")
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(*skip))
    os.symlink(src / "corpus", dest / "corpus")
    for rel in remove:
        path = dest / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return dest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One complete ``./run.sh --mini-size tiny`` (stages 0-7, GE2E backbone), made once per
    session for the slow recipe tests (tests/recipes/test_mini_recipe.py, test_faults_recipe.py,
    test_backbone_recipes.py, test_backbone_onnx.py). Read it, never run or write in it: a test
    that runs the recipe does so in a ``copy_run`` of it, so the tests stay independent and run
    in any order. Its log is ``run.0.log``."""
    work = make_workdir(tmp_path_factory.mktemp("tiny_run") / "seed")
    run_recipe(work, "--mini-size", "tiny")
    return work
