"""seedkit-extract, its crop modes, the merge bin and utils/extract_embeddings.sh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tone_data import make_data
from torch_threads import one_thread  # noqa: F401 (autouse)

from seedkit.bin import extract as extract_bin
from seedkit.bin import merge_embedding_scp as merge_bin
from seedkit.crops import make_crops, multi_crops, parse_crop, random_crop, wrap_pad
from seedkit.embio import read_embeddings
from seedkit.errors import SeedkitError, run_main
from seedkit.rng import utterance_rng

REPO = Path(__file__).resolve().parents[2]
TINY_RESNET = REPO / "egs/voxceleb/seed/conf/test_tiny_resnet.yaml"
TINY_ECAPA = REPO / "egs/voxceleb/seed/conf/test_tiny_ecapa.yaml"
GE2E_CONF = REPO / "egs/mini/seed/conf/ge2e.yaml"


def run_cli(main, argv, capsys) -> tuple[int, str]:
    status = run_main(main, prog="seedkit-x", argv=[str(a) for a in argv])
    return status, capsys.readouterr().err


# --------------------------------------------------------------------------------- crops
def test_parse_crop():
    assert parse_crop("full").kind == "full"
    m = parse_crop("multi:10:4.015")
    assert (m.kind, m.num, m.length(16000)) == ("multi", 10, 64240)
    assert parse_crop("random:2.015").length(16000) == 32240
    for bad in ("multi:10", "random", "random:-1", "multi:0:4", "multi:x:4", "crop:3", ""):
        with pytest.raises(SeedkitError, match="bad crop mode"):
            parse_crop(bad)


def test_wrap_pad_is_numpy_wrap():
    x = np.arange(7, dtype=np.float32)
    for n in (7, 8, 20, 100):
        assert np.array_equal(wrap_pad(x, n), np.pad(x, (0, max(0, n - 7)), mode="wrap"))


def test_multi_crops_follow_seed_protocol():
    x = np.arange(100000, dtype=np.float32)
    crops = multi_crops(x, 10, 64240)
    starts = [int(s) for s in np.linspace(0, 100000 - 64240, 10)]
    assert crops.shape == (10, 64240)
    assert [int(c[0]) for c in crops] == starts
    # at most L samples: wrap-pad to L + 1, so starts are int(linspace(0, 1, 10))
    short = np.arange(30000, dtype=np.float32)
    crops = multi_crops(short, 10, 64240)
    assert [int(c[0]) for c in crops] == [0] * 9 + [1]
    assert np.array_equal(crops[0], np.pad(short, (0, 64241 - 30000), mode="wrap")[:64240])
    exact = np.arange(64240, dtype=np.float32)
    assert np.array_equal(multi_crops(exact, 10, 64240)[9][-1:], [0.0])  # wrapped sample


def test_random_crop_seeded_per_utterance():
    x = np.arange(50000, dtype=np.float32)
    a = random_crop(x, 32240, 7, "spk1-a")
    assert a.shape == (1, 32240)
    assert np.array_equal(a, random_crop(x, 32240, 7, "spk1-a"))
    starts = {int(random_crop(x, 32240, s, k)[0, 0]) for s in range(3) for k in "abcdef"}
    assert len(starts) > 10
    start = int(utterance_rng(7, "spk1-a").random() * (50000 - 32240))
    assert int(a[0, 0]) == start
    assert random_crop(np.ones(10, np.float32), 32240, 0, "k").shape == (1, 32240)


def test_make_crops_full_and_empty():
    x = np.ones(100, np.float32)
    assert make_crops(x, parse_crop("full"), 16000, 0, "k", min_samples=512).shape == (1, 512)
    assert make_crops(x, parse_crop("full"), 16000, 0, "k").shape == (1, 100)
    with pytest.raises(ValueError):
        make_crops(np.zeros(0, np.float32), parse_crop("full"), 16000, 0, "k")


# --------------------------------------------------------------------------------- CLI
def test_extract_ge2e_full_matches_model(tmp_path, capsys):
    data = make_data(tmp_path, {"a-1": 16000, "a-2": 40000, "b-1": 9000})
    out = tmp_path / "out"
    status, err = run_cli(extract_bin.main, ["--config", GE2E_CONF, "--device", "cpu",
                                             data, f"ark,scp:{out}/x.ark,{out}/x.scp"], capsys)
    assert status == 0, err
    assert "utterances/s" in err and "extracted 3 utterances" in err
    emb = read_embeddings(f"scp:{out}/x.scp")
    assert list(emb) == ["a-1", "a-2", "b-1"]
    from seedkit.models.checkpoint import load_backbone_checkpoint
    from seedkit.models.config import resemblyzer_checkpoint
    from seedkit.models.ge2e import GE2E

    model = GE2E().eval()
    load_backbone_checkpoint(model, resemblyzer_checkpoint())
    for key, value in emb.items():
        x, _ = sf.read(str(tmp_path / "wav" / f"{key}.wav"), dtype="float32")
        with torch.no_grad():
            ref = model.embed_utterance(torch.from_numpy(x)).numpy()
        assert value.shape == (256,)
        np.testing.assert_allclose(value, ref, rtol=1e-5, atol=1e-6)


def test_extract_multi_random_and_determinism(tmp_path, capsys):
    data = make_data(tmp_path, {"a-1": 20000, "a-2": 5000, "b-1": 33000})
    arks = {}
    for name, crop, seed in (("m", "multi:4:1.0", 0), ("r1", "random:0.5", 3),
                             ("r2", "random:0.5", 3), ("r3", "random:0.5", 4)):
        status, err = run_cli(extract_bin.main, [
            "--config", TINY_RESNET, "--allow-random-weights", "--crop", crop, "--seed", seed,
            "--batch-size", 3, data, f"ark:{tmp_path}/{name}.ark"], capsys)
        assert status == 0, err
        arks[name] = read_embeddings(f"ark:{tmp_path}/{name}.ark")
    assert all(v.shape == (4, 32) for v in arks["m"].values())
    assert all(v.shape == (32,) for v in arks["r1"].values())
    assert (tmp_path / "r1.ark").read_bytes() == (tmp_path / "r2.ark").read_bytes()
    assert (tmp_path / "r1.ark").read_bytes() != (tmp_path / "r3.ark").read_bytes()
    # the multi-crop matrix equals the model on the protocol's crops
    from seedkit.models.config import build_from_config, load_backbone_config

    model = build_from_config(load_backbone_config(TINY_RESNET), allow_random_weights=True)
    x, _ = sf.read(str(tmp_path / "wav" / "a-2.wav"), dtype="float32")
    with torch.no_grad():
        ref = model(torch.from_numpy(multi_crops(x, 4, 16000))).numpy()
    np.testing.assert_allclose(arks["m"]["a-2"], ref, rtol=1e-4, atol=1e-5)


def test_extract_segments_and_pipes(tmp_path, capsys):
    data = make_data(tmp_path, {"rec-1": 48000})
    wav = tmp_path / "wav" / "rec-1.wav"
    (data / "wav.scp").write_text(f"rec-1 cat {wav} |\n")
    (data / "segments").write_text("rec-1-a rec-1 0.0 1.0\nrec-1-b rec-1 1.5 3.0\n")
    (data / "utt2spk").write_text("rec-1-a rec\nrec-1-b rec\n")
    status, err = run_cli(extract_bin.main, ["--config", TINY_ECAPA, "--allow-random-weights",
                                             data, f"ark:{tmp_path}/s.ark"], capsys)
    assert status == 0, err
    emb = read_embeddings(f"ark:{tmp_path}/s.ark")
    from seedkit.models.config import build_from_config, load_backbone_config

    model = build_from_config(load_backbone_config(TINY_ECAPA), allow_random_weights=True)
    x, _ = sf.read(str(wav), dtype="float32")
    with torch.no_grad():
        ref = model(torch.from_numpy(x[24000:48000])[None]).numpy()[0]
    np.testing.assert_allclose(emb["rec-1-b"], ref, rtol=1e-4, atol=1e-5)


def test_device_cuda_when_unavailable(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = make_data(tmp_path, {"a-1": 8000})
    status, err = run_cli(extract_bin.main, ["--device", "cuda", data, f"ark:{tmp_path}/x.ark"],
                          capsys)
    assert status == 1 and "CUDA is not available" in err
    from seedkit.extract import default_device

    assert default_device() == "cpu"


def test_merge_checks_counts(tmp_path, capsys):
    data = make_data(tmp_path, {"a-1": 8000, "a-2": 8000, "b-1": 8000})
    (tmp_path / "1.scp").write_text("a-1 x.ark:5\na-2 x.ark:50\n")
    (tmp_path / "2.scp").write_text("b-1 y.ark:5\n")
    status, err = run_cli(merge_bin.main, ["--data", data, tmp_path / "all.scp",
                                           tmp_path / "2.scp", tmp_path / "1.scp"], capsys)
    assert status == 0, err
    assert (tmp_path / "all.scp").read_text().split("\n")[0] == "a-1 x.ark:5"
    status, err = run_cli(merge_bin.main, ["--data", data, tmp_path / "bad.scp",
                                           tmp_path / "1.scp"], capsys)
    assert status == 1 and "hold 2 embeddings, the data has 3" in err and "b-1" in err
    assert not (tmp_path / "bad.scp").exists()
    status, err = run_cli(merge_bin.main, [tmp_path / "dup.scp", tmp_path / "1.scp",
                                           tmp_path / "1.scp"], capsys)
    assert status == 1 and "more than one job" in err


# --------------------------------------------------------------------------------- parallel
def _script_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{REPO / 'utils'}:{env['PATH']}"
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow  # four job processes, each importing torch: ~10 s idle, 25 s on a busy machine
def test_extract_embeddings_sh_parallel_rerun(tmp_path):
    data = make_data(tmp_path, {"a-1": 9000, "a-2": 12000, "b-1": 7000, "b-2": 20000,
                                "c-1": 16000})
    out = tmp_path / "xv"
    cmd = [str(REPO / "utils/extract_embeddings.sh"), "--nj", "2", "--config", str(TINY_RESNET),
           "--allow-random-weights", "true", "--crop", "multi:2:0.5", str(data), str(out)]
    proc = subprocess.run(cmd, env=_script_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for j in (1, 2):
        assert (out / f"xvector.{j}.ark").is_file() and (out / f"log/extract.{j}.log").is_file()
    emb = read_embeddings(f"scp:{out}/xvector.scp")
    assert sorted(emb) == ["a-1", "a-2", "b-1", "b-2", "c-1"]
    assert all(v.shape == (2, 32) for v in emb.values())
    # same as one job
    status = run_main(extract_bin.main, argv=["--config", str(TINY_RESNET),
                                              "--allow-random-weights", "--crop", "multi:2:0.5",
                                              str(data), f"ark:{tmp_path}/one.ark"])
    assert status == 0
    for k, v in read_embeddings(f"ark:{tmp_path}/one.ark").items():
        np.testing.assert_allclose(emb[k], v, rtol=1e-5, atol=1e-6)
    # a re-run skips the complete jobs; a removed job output is redone
    (out / "xvector.2.scp").unlink()
    stale = out / ".xvector.2.ark.k1ll3dj0.tmp"  # what a SIGKILLed job leaves behind
    stale.write_bytes(b"partial")
    proc = subprocess.run(cmd, env=_script_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and not list(out.glob(".*.tmp"))
    assert "skipping" in (out / "log/extract.1.log").read_text()
    assert "skipping" not in (out / "log/extract.2.log").read_text()
    assert read_embeddings(f"scp:{out}/xvector.scp").keys() == emb.keys()


def test_extract_embeddings_sh_failure_reports(tmp_path):
    data = make_data(tmp_path, {"a-1": 9000, "b-1": 7000})
    (tmp_path / "wav" / "b-1.wav").unlink()
    out = tmp_path / "xv"
    proc = subprocess.run([str(REPO / "utils/extract_embeddings.sh"), "--nj", "2",
                           "--config", str(TINY_RESNET), "--allow-random-weights", "true",
                           str(data), str(out)], env=_script_env(), capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert "b-1.wav does not exist" in proc.stderr
    assert not (out / "xvector.scp").exists() and not (out / "xvector.2.scp").exists()


def test_ordered_map_keeps_order_and_the_first_error():
    import time as _time

    from seedkit.extract import ordered_map

    def slow_square(i: int) -> int:
        _time.sleep(0.002 * (i % 3))
        if i in (7, 9):
            raise SeedkitError(f"bad {i}")
        return i * i

    assert list(ordered_map(slow_square, range(7), workers=3, depth=4)) == \
        [i * i for i in range(7)]
    got = []
    with pytest.raises(SeedkitError, match="bad 7"):
        for v in ordered_map(slow_square, range(12), workers=3, depth=4):
            got.append(v)
    assert got == [i * i for i in range(7)]
    assert list(ordered_map(slow_square, range(5), workers=1)) == [0, 1, 4, 9, 16]
