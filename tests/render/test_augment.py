"""SEED-shaped augmentation: crops, SNR mixing, reverb, utt2clean pairs, determinism, errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from augment_inputs import make_inputs

from seedkit.augment import augment_data_dir
from seedkit.corpus import real_layout as rl
from seedkit.crops import crop_samples, wrap_crop
from seedkit.data.datadir import DataDir, load_data_dir, validate_data_dir, write_data_dir
from seedkit.errors import SeedkitError, run_main
from seedkit.render import snr_mix

REPO = Path(__file__).resolve().parents[2]
L = 32240


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A clean 16 kHz data dir (long and short utterances), MUSAN and RIR data dirs."""
    return make_inputs(tmp_path_factory.mktemp("aug_inputs"))


def _run(inputs, out: Path, **kw):
    kw = {"rounds": 2, "seed": 7, "materialise": True, "fresh_crops": False, **kw}
    return augment_data_dir(inputs / "clean", out / "crops", out / "aug", musan=inputs / "musan",
                            rirs=inputs / "rirs", **kw)


@pytest.fixture(scope="module")
def made(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("aug_out")
    stats = _run(inputs, out)
    return out, stats


def _read(path) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float64")
    assert rate == 16000
    return x


def _info(out: Path) -> dict[str, list[str]]:
    lines = (out / "aug" / "augment.info").read_text().splitlines()
    assert lines[0].startswith("#")
    return {ln.split()[0]: ln.split()[1:] for ln in lines[1:]}


def test_crop_length_is_seeds():
    assert crop_samples(2.015, 16000) == 32240 == 200 * 160 + 240
    x = np.arange(10.0)
    assert list(wrap_crop(x, 4, 3)) == [3, 4, 5, 6]
    assert list(wrap_crop(x, 12, 0)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]  # wrap-padded


def test_data_dirs_and_utt2clean(inputs, made):
    out, stats = made
    clean = validate_data_dir(out / "crops")
    aug = validate_data_dir(out / "aug")
    src = load_data_dir(inputs / "clean")
    assert list(clean.utt2spk) == list(src.utt2spk)
    assert stats == {"clean": 6, "augmented": 6 * 2 * 3, "pairs": 6 * 7}
    u2c = aug.extra["utt2clean"]
    assert len(u2c) == len(aug) == 42
    for key, c in u2c.items():
        assert c in clean.utt2spk and aug.utt2spk[key] == clean.utt2spk[c]
        if key == c:  # identity pairs: the clean crop itself, same wav as in the crops dir
            assert aug.wav_scp[key] == clean.wav_scp[key]
            assert aug.extra["utt2env"][key] == "clean"
        else:
            kind = key[len(c) + 1:]
            assert kind in {f"{k}{r}" for k in ("music", "noise", "reverb") for r in (1, 2)}
            assert aug.extra["utt2env"][key].startswith(kind[:-1] + ":")
    for path in list(aug.wav_scp.values()):
        info = sf.info(path)
        assert (info.frames, info.samplerate, info.channels) == (L, 16000, 1)
    assert all(abs(d - 2.015) < 1e-9 for d in aug.utt2dur.values())


def test_clean_crop_is_a_crop_of_the_utterance(inputs, made):
    out, _ = made
    info = _info(out)
    src = load_data_dir(inputs / "clean")
    crops = load_data_dir(out / "crops")
    for utt in src.utt2spk:
        x = _read(src.wav_scp[utt])
        start = int(info[utt][3])
        if len(x) <= L:
            assert start == 0
            want = np.pad(x, (0, L + 1 - len(x)), mode="wrap")[:L]
        else:
            assert 0 <= start <= len(x) - L
            want = x[start:start + L]
        assert np.array_equal(_read(crops.wav_scp[utt]), want)


def test_snr_and_reverb_follow_seeds_formulas(inputs, made):
    out, _ = made
    info = _info(out)
    aug = load_data_dir(out / "aug")
    musan = load_data_dir(inputs / "musan")
    rirs = load_data_dir(inputs / "rirs")
    q = 1.5 / 32768  # 16-bit quantisation
    n_checked = n_reverb = 0
    for key, (kind, source, snr, off) in info.items():
        if kind == "clean":
            continue
        clean = _read(aug.wav_scp[aug.extra["utt2clean"][key]])
        y = _read(aug.wav_scp[key])
        if kind == "reverb":
            # SEED's reverb, written out here: the RIR scaled to unit energy h / sqrt(sum h^2),
            # full convolution, the first len(clean) samples (no delay compensation)
            rir = _read(rirs.wav_scp[source])
            want = np.convolve(clean, rir / np.sqrt(np.sum(rir ** 2)), mode="full")[:len(clean)]
            peak = np.max(np.abs(want))
            gain = 0.999 / peak if peak > 32767 / 32768 else 1.0  # 16-bit output never clips
            assert np.max(np.abs(y - gain * want)) < 2 * q
            assert np.max(np.abs(y - clean)) > 100 * q  # the RIR really changed the signal
            n_reverb += 1
            continue
        lo, hi = (5, 15) if kind == "music" else (0, 15)
        assert lo <= float(snr) <= hi
        noise = wrap_crop(_read(musan.wav_scp[source]), L, int(off))
        want = snr_mix(clean, noise, float(snr))
        assert np.max(np.abs(want)) < 1  # no anti-clip gain in this fixture
        assert np.max(np.abs(y - want)) < 2 * q
        measured = 10 * np.log10(np.mean(clean ** 2) / np.mean((y - clean) ** 2))
        assert abs(measured - float(snr)) < 0.5, (key, measured, snr)
        n_checked += 1
    assert n_checked == 6 * 2 * 2 and n_reverb == 6 * 2


def test_deterministic_and_independent_of_job_split(inputs, made, tmp_path):
    out, _ = made
    for job in (1, 2, 3):
        _run(inputs, tmp_path / "a", job=job, nj=3)
    assert not (tmp_path / "a" / "aug" / "utt2clean").exists()  # jobs write no data dirs
    _run(inputs, tmp_path / "a")
    for sub in ("crops", "aug"):
        files = sorted(p.relative_to(out / sub) for p in (out / sub).rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(tmp_path / "a" / sub)
                               for p in (tmp_path / "a" / sub).rglob("*") if p.is_file())
        for rel in files:
            a, b = (out / sub / rel).read_bytes(), (tmp_path / "a" / sub / rel).read_bytes()
            if rel.suffix == ".wav":
                assert a == b, rel
            else:  # tables hold absolute paths
                assert a.replace(str(out).encode(), b"") == \
                    b.replace(str(tmp_path / "a").encode(), b""), rel
    _run(inputs, tmp_path / "b", seed=8)
    assert _info(tmp_path / "b") != _info(out)


def test_rerun_keeps_existing_files(inputs, tmp_path):
    _run(inputs, tmp_path, rounds=1)
    aug = load_data_dir(tmp_path / "aug")
    some = Path(aug.wav_scp["spkA-000-noise1"])
    before = os.stat(some).st_mtime_ns
    some_other = Path(aug.wav_scp["spkB-001-music1"])
    data = some_other.read_bytes()
    some_other.unlink()
    _run(inputs, tmp_path, rounds=1)
    assert os.stat(some).st_mtime_ns == before and some_other.read_bytes() == data


def _main(argv, capsys):
    from seedkit.bin.augment_data_dir import main

    status = run_main(main, "seedkit-augment-data-dir", argv)
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    return status, errors


def test_musan_without_music_is_one_error(inputs, tmp_path, capsys):
    status, errors = _main(["--musan", str(inputs / "musan_noise"), "--rirs",
                            str(inputs / "rirs"), str(inputs / "clean"), str(tmp_path / "c"),
                            str(tmp_path / "a")], capsys)
    assert status == 1 and len(errors) == 1
    assert "no music recordings" in errors[0] and "utt2spk" in errors[0]


def test_missing_clean_dir(inputs, tmp_path, capsys):
    status, errors = _main(["--musan", str(inputs / "musan"), "--rirs", str(inputs / "rirs"),
                            str(tmp_path / "none"), str(tmp_path / "c"), str(tmp_path / "a")],
                           capsys)
    assert status == 1 and len(errors) == 1 and "clean data dir not found" in errors[0]


def test_unreadable_and_wrong_rate_wav(inputs, tmp_path, capsys):
    dd = load_data_dir(inputs / "clean")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF garbage")
    dd.wav_scp["spkA-001"] = str(bad)
    write_data_dir(dd, tmp_path / "clean")
    args = ["--musan", str(inputs / "musan"), "--rirs", str(inputs / "rirs"),
            str(tmp_path / "clean"), str(tmp_path / "c"), str(tmp_path / "a")]
    status, errors = _main(args, capsys)
    assert status == 1 and len(errors) == 1
    assert f"{tmp_path / 'clean' / 'wav.scp'}:2:" in errors[0] and "corrupt" in errors[0]
    sf.write(bad, np.zeros(24000), 24000, subtype="PCM_16")
    status, errors = _main(args, capsys)
    assert status == 1 and len(errors) == 1 and "24000 Hz" in errors[0]
    assert "resample" in errors[0]
    assert not (tmp_path / "a" / "utt2clean").exists()


def test_bad_options():
    with pytest.raises(SeedkitError, match="rounds"):
        augment_data_dir("x", "y", "z", musan="m", rirs="r", rounds=0)


def test_shell_helper_with_run_pl(inputs, made, tmp_path):
    out, _ = made
    env = dict(os.environ, PATH=f"{REPO / '.venv' / 'bin'}:{REPO / 'utils'}:{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", str(REPO / "utils" / "augment_data_dir.sh"), "--nj", "2", "--rounds", "2",
         "--seed", "7", "--materialise", "true", "--fresh-crops", "false",
         "--musan", str(inputs / "musan"), "--rirs", str(inputs / "rirs"),
         str(inputs / "clean"), str(tmp_path / "crops"), str(tmp_path / "aug")],
        env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "aug" / "log" / "augment.2.log").is_file()
    a = load_data_dir(tmp_path / "aug")
    b = load_data_dir(out / "aug")
    assert a.extra["utt2clean"] == b.extra["utt2clean"]
    for key in a.wav_scp:
        assert Path(a.wav_scp[key]).read_bytes() == Path(b.wav_scp[key]).read_bytes()


def test_segments_are_cropped_inside_their_segment(inputs, tmp_path):
    rng = np.random.default_rng(4)
    x = np.concatenate([np.zeros(16000), rl.voice(16000, 3.0, 150.0, 1.0, rng), np.zeros(16000)])
    rl._write(tmp_path / "rec.wav", x, 16000)
    x = _read(tmp_path / "rec.wav")
    dd = DataDir()
    dd.wav_scp["s-rec"] = str(tmp_path / "rec.wav")
    dd.utt2spk.update({"s-rec-0": "s", "s-rec-1": "s"})
    dd.segments = {"s-rec-0": ("s-rec", 1.0, 4.0), "s-rec-1": ("s-rec", 4.5, -1)}
    write_data_dir(dd, tmp_path / "clean")
    augment_data_dir(tmp_path / "clean", tmp_path / "crops", tmp_path / "aug",
                     musan=inputs / "musan", rirs=inputs / "rirs", seed=1, materialise=True,
                     fresh_crops=False)
    info = _info(tmp_path)
    crops = load_data_dir(tmp_path / "crops")
    start = int(info["s-rec-0"][3])
    assert 0 <= start <= 3 * 16000 - L
    assert np.array_equal(_read(crops.wav_scp["s-rec-0"]), x[16000 + start:16000 + start + L])
    tail = x[72000:]  # 1.5 s to the end of the file: shorter than a crop, wrap-padded
    assert np.array_equal(_read(crops.wav_scp["s-rec-1"]),
                          np.pad(tail, (0, L + 1 - len(tail)), mode="wrap")[:L])
