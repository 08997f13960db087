"""Faults (issue 26): a broken RIR or noise recording is refused where the pairs are planned
(stage 3, seedkit-augment-data-dir), naming its wav.scp line, before any spec is written; the same
checks at render time name the source file and its line. Before: an all-zero RIR passed stage 3
and stage 4 failed hours later with "RIR is all zeros", naming no file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from augment_inputs import make_inputs

from seedkit.bin.augment_data_dir import main as augment_main
from seedkit.bin.render_wav import main as render_main
from seedkit.errors import run_main
from seedkit.render import drop_caches


@pytest.fixture
def data(tmp_path) -> Path:
    """A clean 16 kHz data dir (two 3.1 s and 2.6 s utterances a speaker), MUSAN, RIRs."""
    return make_inputs(tmp_path, seconds=(3.1, 2.6))


def wav_scp(dd: Path) -> list[tuple[str, str]]:
    return [tuple(line.split(None, 1)) for line in (dd / "wav.scp").read_text().splitlines()]


def cli(main, prog: str, argv: list[str], capfd) -> subprocess.CompletedProcess:
    """``prog`` run in this process (as its console script does, through run_main)."""
    drop_caches()
    capfd.readouterr()
    status = run_main(main, prog, argv)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess([prog, *argv], status, out, err)


def augment(data: Path, out: Path, capfd, *extra: str) -> subprocess.CompletedProcess:
    return cli(augment_main, "seedkit-augment-data-dir",
               ["--rounds", "2", "--seed", "7", "--musan", str(data / "musan"), "--rirs",
                str(data / "rirs"), *extra, str(data / "clean"), str(out / "crops"),
                str(out / "aug")], capfd)


def one_error(r: subprocess.CompletedProcess, prog: str) -> str:
    assert r.returncode == 1, r.stderr
    assert r.stderr.endswith("\n") and "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1 and r.stderr.splitlines()[-1] == errors[0], r.stderr
    assert errors[0].startswith(f"ERROR ({prog}): ")
    return errors[0]


def rewrite(path: str, fn) -> None:
    x, rate = sf.read(path, dtype="float32")
    sf.write(path, fn(x), rate, subtype="FLOAT")


def named_line(msg: str, dd: Path) -> tuple[str, str]:
    """The (key, entry) of the wav.scp line an ERROR names; checks the key and file are quoted."""
    m = re.search(re.escape(str(dd / "wav.scp")) + r":(\d+): ", msg)
    assert m, msg
    key, entry = wav_scp(dd)[int(m.group(1)) - 1]
    assert f"{key!r}: {entry}" in msg, msg
    return key, entry


@pytest.mark.parametrize("materialise", ["false", "true"])
def test_all_zero_rir_refused_at_planning(data, tmp_path, capfd, materialise):
    for _, path in wav_scp(data / "rirs"):
        rewrite(path, np.zeros_like)
    r = augment(data, tmp_path / "out", capfd, "--materialise", materialise)
    msg = one_error(r, "seedkit-augment-data-dir")
    named_line(msg, data / "rirs")
    assert "is all zeros (silent); replace the file or remove this line" in msg
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))


def test_nan_noise_and_silent_music_refused_at_planning(data, tmp_path, capfd):
    musan = data / "musan"
    cats = dict(line.split() for line in (musan / "utt2spk").read_text().splitlines())
    for key, path in wav_scp(musan):
        if cats[key] == "noise":
            rewrite(path, lambda x: np.where(np.arange(len(x)) == len(x) // 2, np.nan, x))
    r = augment(data, tmp_path / "out", capfd)
    msg = one_error(r, "seedkit-augment-data-dir")
    key, _ = named_line(msg, musan)
    assert cats[key] == "noise" and "holds NaN or infinite samples" in msg
    assert not (tmp_path / "out").exists()

    for key, path in wav_scp(musan):
        rewrite(path, np.zeros_like if cats[key] == "music" else np.nan_to_num)
    msg = one_error(augment(data, tmp_path / "out", capfd), "seedkit-augment-data-dir")
    key, _ = named_line(msg, musan)
    assert cats[key] == "music" and "is all zeros (silent)" in msg


def test_good_sources_give_the_same_spec_as_before(data, tmp_path, capfd):
    """Reading the sources to check them draws no random number: the spec is what the planner
    gives without the check (checked against a run that skips it)."""
    from seedkit import augment as aug_mod

    r = augment(data, tmp_path / "a", capfd)
    assert r.returncode == 0, r.stderr
    saved = aug_mod.check_sources
    try:
        aug_mod.check_sources = lambda inputs, entries: 0
        aug_mod.augment_data_dir(data / "clean", tmp_path / "b/crops", tmp_path / "b/aug",
                                 musan=data / "musan", rirs=data / "rirs", rounds=2, seed=7)
    finally:
        aug_mod.check_sources = saved
    for d in ("crops", "aug"):
        assert (tmp_path / "a" / d / "render.spec").read_bytes() == \
            (tmp_path / "b" / d / "render.spec").read_bytes()


def test_rir_broken_after_planning_is_named_at_render_time(data, tmp_path, capfd):
    """The RIR zeroed after stage 3: seedkit-render-wav (and seedkit-extract, which renders the
    same way in process) names the RIR's file and wav.scp line; the error line ends with a
    newline."""
    r = augment(data, tmp_path / "out", capfd)
    assert r.returncode == 0, r.stderr
    spec = tmp_path / "out/aug/render.spec"
    reverb = [ln.split()[0] for ln in spec.read_text().splitlines() if " reverb " in ln]
    assert reverb
    for _, path in wav_scp(data / "rirs"):
        rewrite(path, np.zeros_like)
    r = cli(render_main, "seedkit-render-wav", [str(spec), reverb[0]], capfd)
    msg = one_error(r, "seedkit-render-wav")
    named_line(msg, data / "rirs")
    assert "RIR" in msg and "is all zeros" in msg
    assert r.stdout == ""
