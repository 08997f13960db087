"""Reading the audio of a wav.scp entry: paths, pipes, and every rejection with its place."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from seedkit.audio import read_audio, write_wav
from seedkit.errors import SeedkitError

RATE = 16000


@pytest.fixture
def tone(tmp_path):
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE // 10) / RATE)).astype(np.float32)
    path = tmp_path / "tone.wav"
    write_wav(path, x, RATE)
    return path, x


def test_read_path(tone):
    path, x = tone
    y, rate = read_audio(str(path), RATE)
    assert rate == RATE and y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1 / 32768 + 1e-6  # 16-bit quantisation only


def test_read_pipe(tone):
    path, x = tone
    y, _ = read_audio(f"cat {path} |", RATE)
    np.testing.assert_array_equal(y, read_audio(str(path), RATE)[0])


def test_read_sox_pipe_resampling(tone):
    path, _ = tone
    y, rate = read_audio(f"sox {path} -t wav -r 8000 - |", 8000)
    assert rate == 8000 and abs(len(y) - RATE // 20) <= 1


def test_wav_scp_location_in_errors(tmp_path):
    with pytest.raises(SeedkitError) as err:
        read_audio(str(tmp_path / "missing.wav"), RATE, where="data/x/wav.scp", line=7, key="u1")
    assert str(err.value) == (f"data/x/wav.scp:7: 'u1': audio file {tmp_path}/missing.wav does "
                              "not exist")


def test_stereo_rejected(tmp_path):
    sf.write(tmp_path / "st.wav", np.zeros((100, 2), dtype=np.float32), RATE)
    with pytest.raises(SeedkitError, match="has 2 channels; seedkit needs mono") as err:
        read_audio(str(tmp_path / "st.wav"), RATE)
    assert err.value.path == str(tmp_path / "st.wav")


def test_wrong_rate_rejected(tmp_path):
    write_wav(tmp_path / "8k.wav", np.zeros(100), 8000)
    with pytest.raises(SeedkitError, match="sample rate 8000 Hz, expected 16000 Hz; resample"):
        read_audio(str(tmp_path / "8k.wav"), RATE)
    y, rate = read_audio(str(tmp_path / "8k.wav"))  # no expectation: any rate
    assert rate == 8000 and len(y) == 100


def test_empty_rejected(tmp_path):
    write_wav(tmp_path / "empty.wav", np.zeros(0), RATE)
    with pytest.raises(SeedkitError, match="has no samples"):
        read_audio(str(tmp_path / "empty.wav"), RATE)


def test_corrupt_rejected(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(SeedkitError, match="cannot read .*bad.wav as audio"):
        read_audio(str(tmp_path / "bad.wav"), RATE)
    with pytest.raises(SeedkitError, match="cannot read pipe output as audio"):
        read_audio("echo not-a-wav |", RATE, where="wav.scp", line=2)


def test_failing_pipe_rejected():
    with pytest.raises(SeedkitError) as err:
        read_audio("echo oops >&2; exit 3 |", RATE, where="d/wav.scp", line=4, key="u")
    assert (err.value.path, err.value.line) == ("d/wav.scp", 4)
    assert "'u': pipe command failed with status 3: oops" in err.value.message
    with pytest.raises(SeedkitError) as err:  # no wav.scp given: the command is quoted
        read_audio("false |", RATE)
    assert err.value.path is None and "command 'false'" in err.value.message
    assert "status 1: it wrote nothing on stderr;" in err.value.message  # not an empty reason


def test_pipe_does_not_read_our_stdin(tone):
    # A pipe command that reads stdin must not consume the caller's (e.g. an ark:- being read):
    # here the caller's stdin holds junk that would corrupt the wav if "cat -" got it.
    path, _ = tone
    code = ("import sys; from seedkit.audio import read_audio; "
            f"print(len(read_audio('cat - {path} |', {RATE})[0]))")
    out = subprocess.run([sys.executable, "-c", code], input=b"junk" * 100,
                         capture_output=True, check=True)
    assert out.stdout.decode().strip() == str(RATE // 10)
