"""Resampling data dirs with ffmpeg: rates, lengths, pipes, channels, JOB parts, skips, errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seedkit.data.datadir import DataDir, load_data_dir, validate_data_dir, write_data_dir
from seedkit.errors import SeedkitError, run_main
from seedkit.prepare.kaldi import ffmpeg_pipe
from seedkit.resample import job_keys, output_path, resample_data_dir

REPO = Path(__file__).resolve().parents[2]


def _tone(rate: int, seconds: float, f: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(rate * seconds))) / rate
    x = 0.3 * np.sin(2 * np.pi * f * t)
    return x if channels == 1 else np.stack([x * (c + 1) / channels for c in range(channels)], 1)


@pytest.fixture
def src(tmp_path) -> Path:
    """A data dir with a 24 kHz wav, a flac pipe and a stereo 44.1 kHz wav."""
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "a.wav", _tone(24000, 1.5), 24000, subtype="PCM_16")
    sf.write(audio / "b.flac", _tone(16000, 1.2, 300), 16000, format="FLAC")
    sf.write(audio / "c.wav", _tone(44100, 0.9, 200, channels=2), 44100, subtype="PCM_16")
    sf.write(audio / "d.wav", _tone(24000, 0.7, 500), 24000, subtype="PCM_16")
    dd = DataDir()
    dd.wav_scp.update({"s1-a": str(audio / "a.wav"), "s1-b": ffmpeg_pipe(audio / "b.flac", 16000),
                       "s2-c": str(audio / "c.wav"), "s2-d": str(audio / "d.wav")})
    dd.utt2spk.update({"s1-a": "s1", "s1-b": "s1", "s2-c": "s2", "s2-d": "s2"})
    dd.extra["utt2env"] = {"s1-a": "clean", "s1-b": "clean", "s2-c": "x", "s2-d": "y"}
    write_data_dir(dd, tmp_path / "src")
    (tmp_path / "src" / "trials").write_text("s1-a s1-b target\ns1-a s2-c nontarget\n")
    return tmp_path / "src"


def test_resample_rates_lengths_channels(src, tmp_path):
    stats = resample_data_dir(src, tmp_path / "dest", tmp_path / "wav")
    assert stats == {"converted": 4, "skipped": 0}
    dd = validate_data_dir(tmp_path / "dest")
    expect = {"s1-a": 1.5, "s1-b": 1.2, "s2-c": 0.9, "s2-d": 0.7}
    for key, seconds in expect.items():
        path = Path(dd.wav_scp[key])
        assert path == (tmp_path / "wav").absolute() / output_path("", key)
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.frames - seconds * 16000) <= 1
        assert dd.utt2dur[key] == info.frames / 16000
    x, _ = sf.read(dd.wav_scp["s1-a"])
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * 16000 / len(x) - 440) < 2  # same tone after 24k -> 16k
    c, _ = sf.read(dd.wav_scp["s2-c"])
    assert abs(np.max(np.abs(c)) - 0.225) < 0.01  # stereo (peaks 0.15, 0.3) -> their mean
    assert dd.extra["utt2env"]["s2-d"] == "y"
    assert (tmp_path / "dest" / "trials").read_text() == (src / "trials").read_text()


def test_jobs_then_merge_equal_one_pass_and_rerun_skips(src, tmp_path):
    for job in (1, 2, 3):
        resample_data_dir(src, None, tmp_path / "wav", job=job, nj=3)
    assert not (tmp_path / "dest").exists()  # jobs write no data dir
    stats = resample_data_dir(src, tmp_path / "dest", tmp_path / "wav")
    assert stats == {"converted": 0, "skipped": 4}
    resample_data_dir(src, tmp_path / "one", tmp_path / "wav1")
    a, b = load_data_dir(tmp_path / "dest"), load_data_dir(tmp_path / "one")
    for key in a.wav_scp:
        assert Path(a.wav_scp[key]).read_bytes() == Path(b.wav_scp[key]).read_bytes()
    mtime = os.stat(a.wav_scp["s1-a"]).st_mtime_ns
    Path(a.wav_scp["s2-d"]).unlink()  # a lost file is made again; the others are kept
    assert resample_data_dir(src, tmp_path / "dest", tmp_path / "wav") == {"converted": 1,
                                                                             "skipped": 3}
    assert os.stat(a.wav_scp["s1-a"]).st_mtime_ns == mtime


def test_job_keys_cover_all_once():
    keys = [f"k{i:03d}" for i in range(10)]
    parts = [job_keys(keys, j, 4) for j in range(1, 5)]
    assert sum(parts, []) == keys and all(parts)
    with pytest.raises(SeedkitError):
        job_keys(keys, 5, 4)


def _main(argv, capsys):
    from seedkit.bin.resample_data_dir import main

    status = run_main(main, "seedkit-resample-data-dir", argv)
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    return status, errors


def test_unreadable_audio_one_error_line(src, tmp_path, capsys):
    bad = tmp_path / "audio" / "d.wav"
    bad.write_bytes(b"RIFF garbage, not a wave file")
    status, errors = _main([str(src), str(tmp_path / "dest"), str(tmp_path / "wav")], capsys)
    assert status == 1 and len(errors) == 1
    assert f"{src / 'wav.scp'}:4:" in errors[0] and "s2-d" in errors[0]
    assert not (tmp_path / "dest").exists()
    left = [p for p in (tmp_path / "wav").rglob("*") if p.is_file()]
    assert all(p.suffix == ".wav" and not p.name.startswith(".") for p in left)  # no temp files


def test_missing_file_and_failing_pipe(src, tmp_path, capsys):
    (tmp_path / "audio" / "a.wav").unlink()
    status, errors = _main([str(src), str(tmp_path / "dest"), str(tmp_path / "wav")], capsys)
    assert status == 1 and len(errors) == 1 and "does not exist" in errors[0]
    wav_scp = src / "wav.scp"
    wav_scp.write_text("s1-a false |\n")
    (src / "utt2spk").write_text("s1-a s1\n")
    (src / "spk2utt").write_text("s1 s1-a\n")
    (src / "utt2env").unlink()
    status, errors = _main([str(src), str(tmp_path / "dest"), str(tmp_path / "wav")], capsys)
    assert status == 1 and len(errors) == 1 and f"{wav_scp}:1:" in errors[0]


def test_shell_helper_with_run_pl(src, tmp_path):
    run_pl = REPO / "utils" / "run.pl"
    assert run_pl.is_file()
    env = dict(os.environ, PATH=f"{REPO / '.venv' / 'bin'}:{REPO / 'utils'}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(REPO / "utils" / "resample_data_dir.sh"), "--nj", "2",
                           "--rate", "16000", str(src), str(tmp_path / "dest"),
                           str(tmp_path / "wav")], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "wav" / "log" / "resample.2.log").is_file()
    dd = validate_data_dir(tmp_path / "dest")
    assert len(dd) == 4 and all(sf.info(p).samplerate == 16000 for p in dd.wav_scp.values())
    (tmp_path / "audio" / "a.wav").unlink()
    (tmp_path / "wav" / output_path("", "s1-a")).unlink()
    proc = subprocess.run(["bash", str(REPO / "utils" / "resample_data_dir.sh"), "--nj", "2",
                           str(src), str(tmp_path / "dest2"), str(tmp_path / "wav")], env=env,
                          capture_output=True, text=True)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and "does not exist" in errors[0]


def test_target_format_is_copied_other_formats_converted(tmp_path):
    sf.write(tmp_path / "ok.wav", _tone(16000, 0.5), 16000, subtype="PCM_16")
    sf.write(tmp_path / "f32.wav", _tone(16000, 0.5), 16000, subtype="FLOAT")
    dd = DataDir()
    dd.wav_scp.update({"a-ok": str(tmp_path / "ok.wav"), "a-f32": str(tmp_path / "f32.wav")})
    dd.utt2spk.update({"a-ok": "a", "a-f32": "a"})
    write_data_dir(dd, tmp_path / "src")
    resample_data_dir(tmp_path / "src", tmp_path / "dest", tmp_path / "wav")
    out = load_data_dir(tmp_path / "dest")
    assert Path(out.wav_scp["a-ok"]).read_bytes() == (tmp_path / "ok.wav").read_bytes()
    assert sf.info(out.wav_scp["a-f32"]).subtype == "PCM_16"
    assert np.allclose(sf.read(out.wav_scp["a-f32"])[0], _tone(16000, 0.5), atol=1e-4)


@pytest.mark.parametrize("rate", [0, -16000])
def test_non_positive_rate_refused_before_any_file(src, tmp_path, rate):
    """A rate below 1 Hz is refused up front (ffmpeg's empty output used to be reported as a
    corrupt source on the first utterance); nothing is written."""
    with pytest.raises(SeedkitError) as err:
        resample_data_dir(src, tmp_path / "out", tmp_path / "wavs", sample_rate=rate)
    assert f"sample_rate={rate} is not a sample rate" in err.value.message
    assert f"--sample-rate {rate} is not a sample rate" in err.value.format("prog")
    assert not (tmp_path / "out").exists() and not (tmp_path / "wavs").exists()
