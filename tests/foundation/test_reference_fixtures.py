"""The in-repo reference fixtures are complete, and the weights/waveforms built from them are the
ones the original code was run on (each fixture stores per-tensor sums and waveform checksums).

Also: nothing the repository ships reads a path outside the repository."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import reference_weights as rw
import torch
from conftest import REPO, load_reference, reference_dir

SPECS = {
    "backbone_ResNetSE34V2.json": lambda fx: [fx],
    "backbone_ECAPA_TDNN.json": lambda fx: [fx],
    "rdm_mlp.json": lambda fx: [fx["entries"]["D512"], fx["entries"]["D256"]],
}


def test_every_fixture_is_in_the_repository():
    names = {p.name for p in reference_dir().glob("*.json")}
    assert names == {"backbone_ResNetSE34V2.json", "backbone_ECAPA_TDNN.json", "rdm_mlp.json",
                     "metrics.json", "ge2e.json"}
    assert (reference_dir() / "README.md").is_file()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_weights_match_the_fixture_checksums(name):
    for spec in SPECS[name](load_reference(name)):
        sd = rw.state_dict_from_spec(spec)
        generated = [e for e in spec["state_dict"] if not e.get("derived")
                     and e["key"] not in {d["key"] for d in spec.get("derived_buffers", [])}]
        assert list(sd) == [e["key"] for e in generated]
        for e in generated:
            t = sd[e["key"]].to(torch.float64)
            assert list(t.shape) == e["shape"], e["key"]
            assert float(t.sum()) == pytest.approx(e["sum"], rel=1e-9, abs=1e-9), e["key"]
            assert float(t.abs().sum()) == pytest.approx(e["sum_abs"], rel=1e-9, abs=1e-9), e["key"]


def test_a_wrong_rule_is_caught():
    """The checksum check can fail: a gain of 1.01 moves the sums."""
    e = load_reference("rdm_mlp.json")["entries"]["D256"]["state_dict"][0]
    t = rw.tensor_for_key(e["key"], e["shape"], gain=1.01).double()
    assert float(t.abs().sum()) != pytest.approx(e["sum_abs"], rel=1e-6)


@pytest.mark.parametrize("name", ["backbone_ResNetSE34V2.json", "backbone_ECAPA_TDNN.json"])
def test_waveforms_match_the_fixture_checksums(name):
    for case in load_reference(name)["cases"]:
        for seed, ref in zip(case["input"]["seeds"], case["input"]["checksums"]):
            got = rw.waveform_checksum(rw.fixture_waveform(case["input"]["num_samples"], seed))
            assert got["num_samples"] == ref["num_samples"]
            assert got["first8"] == pytest.approx(ref["first8"], abs=1e-7)
            assert got["at_1000_to_1004"] == pytest.approx(ref["at_1000_to_1004"], abs=1e-7)
            assert got["sum"] == pytest.approx(ref["sum"], rel=1e-6, abs=1e-6)
            assert got["sum_sq"] == pytest.approx(ref["sum_sq"], rel=1e-9)
            assert got["max_abs"] == pytest.approx(ref["max_abs"], abs=1e-7)


# Paths that point outside the repository: the sibling `shared/` folder, the repo's parent, or a
# development machine's absolute paths.
OUTSIDE = re.compile(r"\.\./shared|REPO\.parent|parent\.parent\.parent"
                     r"|/work/main|/work/shared|/home/\w+/")
#: Tracked files the scan leaves out, each for its reason: this file spells the patterns out.
NOT_SCANNED = {"tests/foundation/test_reference_fixtures.py": "holds the patterns themselves"}


def _tracked_files() -> list[str]:
    """Every file git tracks (``git ls-files``): what a clone of the repository ships."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return sorted(out.stdout.decode("utf-8").split("\0")[:-1])


def outside_paths(rel: str, repo: Path = REPO) -> list[str]:
    """The lines of the tracked file ``rel`` that name an outside path; for a link, its target
    when that lies outside ``repo``."""
    p = repo / rel
    if not p.exists() and not p.is_symlink():  # deleted in the work tree, not yet in git
        return []
    if p.is_symlink():  # a link (egs/*/seed/utils) must stay inside the repository
        target = (p.parent / os.readlink(p)).resolve()
        return [] if target.is_relative_to(repo.resolve()) else [f"{rel}: -> {target}"]
    text = p.read_bytes().decode("utf-8", errors="replace")  # binary files (wav) scanned too
    return [f"{rel}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1)
            if OUTSIDE.search(line)]


def test_nothing_reads_outside_the_repository():
    tracked = _tracked_files()
    assert "seedkit/data/datadir.py" in tracked and "seedkit/corpus/make.py" in tracked
    assert set(NOT_SCANNED) <= set(tracked)
    offenders = [x for rel in tracked if rel not in NOT_SCANNED for x in outside_paths(rel)]
    assert not offenders, "\n".join(offenders)


def test_the_scan_finds_an_outside_path(tmp_path):
    assert OUTSIDE.search('ref = REPO.parent / "shared" / "reference"')
    assert OUTSIDE.search("see ../shared/reference/metrics.json")
    assert not OUTSIDE.search("see tests/data/reference/metrics.json")


def test_the_scan_reads_data_folders_and_follows_links(tmp_path):
    """A tracked file under a ``data``/``corpus`` folder is read, and a link out is caught."""
    repo = tmp_path / "repo"
    (repo / "seedkit" / "data").mkdir(parents=True)
    (repo / "seedkit" / "data" / "x.py").write_text('ROOT = "/work/main/tests"\n')
    os.symlink(tmp_path, repo / "out")
    os.symlink("seedkit", repo / "inside")
    assert outside_paths("seedkit/data/x.py", repo) == [
        'seedkit/data/x.py:1: ROOT = "/work/main/tests"']
    assert outside_paths("out", repo) == [f"out: -> {tmp_path}"]
    assert outside_paths("inside", repo) == []
