"""seedkit-extract on bad input: one ERROR line naming the file (and line), no partial output."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_extract import TINY_RESNET
from tone_data import make_data, tone
from torch_threads import one_thread  # noqa: F401 (autouse)

from seedkit.bin import extract as extract_bin
from seedkit.crops import multi_crops, random_crop
from seedkit.embio import read_embeddings
from seedkit.errors import run_main


def extract(tmp_path: Path, data: Path, capsys, *extra) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    argv = [str(a) for a in extra] + [str(data), f"ark,scp:{out}/x.ark,{out}/x.scp"]
    status = run_main(extract_bin.main, prog="seedkit-extract", argv=argv)
    err = capsys.readouterr().err
    return status, err, out


def error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("ERROR (seedkit-extract)")]
    assert len(lines) == 1, err
    return lines[0]


def assert_no_output(out: Path) -> None:
    assert not (out / "x.ark").exists() and not (out / "x.scp").exists()
    assert not list(out.glob("*.tmp")) if out.exists() else True


@pytest.fixture
def data(tmp_path):
    return make_data(tmp_path, {"a-1": 8000, "a-2": 9000, "b-1": 8500})


TINY = ("--config", TINY_RESNET, "--allow-random-weights")


def test_missing_wav(tmp_path, data, capsys):
    (tmp_path / "wav" / "a-2.wav").unlink()
    status, err, out = extract(tmp_path, data, capsys, *TINY)
    line = error_line(err)
    assert status == 1
    assert f"{data / 'wav.scp'}:2:" in line and "a-2.wav does not exist" in line
    assert_no_output(out)


def test_corrupt_wav(tmp_path, data, capsys):
    (tmp_path / "wav" / "b-1.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" * 4)
    status, err, out = extract(tmp_path, data, capsys, *TINY)
    line = error_line(err)
    assert status == 1 and f"{data / 'wav.scp'}:3:" in line and "corrupt" in line
    assert_no_output(out)


def test_wrong_sample_rate(tmp_path, data, capsys):
    sf.write(str(tmp_path / "wav" / "a-1.wav"), tone(4000, 100, 0), 8000, subtype="PCM_16")
    status, err, out = extract(tmp_path, data, capsys, *TINY)
    line = error_line(err)
    assert status == 1 and f"{data / 'wav.scp'}:1:" in line
    assert "8000 Hz" in line and "16000 Hz" in line
    assert_no_output(out)


def test_stereo(tmp_path, data, capsys):
    x = tone(8000, 100, 0)
    sf.write(str(tmp_path / "wav" / "a-1.wav"), np.stack([x, x], 1), 16000, subtype="PCM_16")
    status, err, out = extract(tmp_path, data, capsys, *TINY)
    line = error_line(err)
    assert status == 1 and "2 channels" in line and "mono" in line
    assert_no_output(out)


def test_empty_audio(tmp_path, data, capsys):
    sf.write(str(tmp_path / "wav" / "a-2.wav"), np.zeros(0, np.float32), 16000,
             subtype="PCM_16")
    for crop in ("full", "multi:10:4.015"):
        status, err, out = extract(tmp_path, data, capsys, *TINY, "--crop", crop)
        line = error_line(err)
        assert status == 1 and f"{data / 'wav.scp'}:2:" in line and "no samples" in line
        assert_no_output(out)


def test_failing_pipe(tmp_path, data, capsys):
    (data / "wav.scp").write_text(
        "\n".join(f"{u} {tmp_path}/wav/{u}.wav" for u in ("a-1", "a-2")) +
        "\nb-1 sox /nonexistent/b-1.wav -t wav - |\n")
    status, err, out = extract(tmp_path, data, capsys, *TINY)
    line = error_line(err)
    assert status == 1 and f"{data / 'wav.scp'}:3:" in line and "pipe command failed" in line
    assert_no_output(out)


def test_shorter_than_one_crop_is_wrap_padded(tmp_path, data, capsys):
    from seedkit.models.config import build_from_config, load_backbone_config

    model = build_from_config(load_backbone_config(TINY_RESNET), allow_random_weights=True)
    x, _ = sf.read(str(tmp_path / "wav" / "a-1.wav"), dtype="float32")  # 0.5 s
    for crop, ref_crops in (("multi:3:2.015", multi_crops(x, 3, 32240)),
                            ("random:2.015", random_crop(x, 32240, 5, "a-1"))):
        status, err, out = extract(tmp_path, data, capsys, *TINY, "--crop", crop, "--seed", 5)
        assert status == 0, err
        got = read_embeddings(f"scp:{out}/x.scp")["a-1"]
        assert len(ref_crops[0]) == 32240
        assert np.array_equal(ref_crops[0][:8000], x) and np.array_equal(ref_crops[0][8000:16000],
                                                                         x)
        with torch.no_grad():
            ref = model(torch.from_numpy(ref_crops)).numpy()
        np.testing.assert_allclose(got, ref if crop.startswith("multi") else ref[0],
                                   rtol=1e-4, atol=1e-5)


def test_checkpoint_of_wrong_model(tmp_path, data, capsys):
    from seedkit.models import build_backbone

    ckpt = tmp_path / "ge2e_like.model"
    torch.save(build_backbone("GE2E").state_dict(), ckpt)
    status, err, out = extract(tmp_path, data, capsys, "--config", TINY_RESNET,
                               "--checkpoint", ckpt)
    line = error_line(err)
    assert status == 1 and f"{ckpt}:0:" in line
    assert "does not fit model ResNetSE34V2" in line and "looks like a GE2E checkpoint" in line
    assert_no_output(out)


def test_checkpoint_with_pickled_object(tmp_path, data, capsys):
    from seedkit.models import build_backbone

    ckpt = tmp_path / "pickled.model"
    torch.save({"model": build_backbone("GE2E").state_dict(),
                "args": argparse.Namespace(lr=0.1)}, ckpt)
    status, err, out = extract(tmp_path, data, capsys, "--checkpoint", ckpt)
    line = error_line(err)
    assert status == 1 and f"{ckpt}:0:" in line
    assert "pickled Python objects (it needs argparse.Namespace)" in line
    assert "weights_only=True" in line
    assert_no_output(out)


def test_unknown_model_name(tmp_path, data, capsys):
    conf = tmp_path / "c.yaml"
    conf.write_text("# a backbone\nmodel: ResNet1000\nsample_rate: 16000\n")
    status, err, out = extract(tmp_path, data, capsys, "--config", conf)
    line = error_line(err)
    assert status == 1 and f"{conf}:2:" in line and "unknown model 'ResNet1000'" in line
    assert "ECAPA_TDNN" in line and "GE2E" in line
    assert_no_output(out)


def test_random_weights_need_the_flag(tmp_path, data, capsys):
    status, err, out = extract(tmp_path, data, capsys, "--config", TINY_RESNET)
    line = error_line(err)
    assert status == 1 and "--allow-random-weights" in line
    assert_no_output(out)


def test_bad_crop_and_device(tmp_path, data, capsys):
    status, err, _ = extract(tmp_path, data, capsys, *TINY, "--crop", "multi:4")
    assert status == 1 and "bad crop mode" in error_line(err)
    status, err, _ = extract(tmp_path, data, capsys, *TINY, "--device", "tpu:0")
    assert status == 1 and "bad --device" in error_line(err)
