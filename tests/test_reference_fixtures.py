"""The in-repo reference fixtures are complete, and the weights/waveforms built from them are the
ones the original code was run on (each fixture stores per-tensor sums and waveform checksums).

Also: nothing the repository ships reads a path outside the repository."""

from __future__ import annotations

import re

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
SCANNED = ("tests", "seedkit", "tools", ".ci", "utils", "egs", "benchmarks", "docs")


def _shipped_text_files():
    for top in SCANNED:
        for p in sorted((REPO / top).rglob("*")):
            if not p.is_file() or p.suffix in {".json", ".pt", ".wav", ".png", ".pyc"}:
                continue
            if any(part in {"__pycache__", "exp", "data", "corpus", "mfcc"} for part in
                   p.relative_to(REPO).parts[1:-1]):
                continue
            yield p
    yield REPO / "README.md"
    yield REPO / "Makefile"


def test_nothing_reads_outside_the_repository():
    offenders = []
    for p in _shipped_text_files():
        if p.name == "test_reference_fixtures.py":
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{p.relative_to(REPO)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_scan_finds_an_outside_path(tmp_path):
    assert OUTSIDE.search('ref = REPO.parent / "shared" / "reference"')
    assert OUTSIDE.search("see ../shared/reference/metrics.json")
    assert not OUTSIDE.search("see tests/data/reference/metrics.json")
