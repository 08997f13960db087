"""``model: ONNX``: any exported fbank -> embedding speaker model, by conf.

Fidelity: seedkit-extract (the real CLI) against sherpa-onnx's own ``SpeakerEmbeddingExtractor``
on the same wav files, for files carrying the metadata of sherpa-onnx's WeSpeaker and 3D-Speaker
exports (<= 1e-4 relative). Bad input (one ERROR line each, nothing written): wrong input rank, a
non-16 kHz model with 16 kHz audio, a missing or corrupt .onnx, an output that is not [B, D], a
file without metadata and no front end in the conf. Slow: the mini recipe end to end with an ONNX
conf.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import sherpa_onnx
import soundfile as sf
import tone_data
import torch
from conftest import copy_run, run_recipe
from torch import nn

import seedkit
from seedkit.bin import extract as extract_bin
from seedkit.embio import read_embeddings
from seedkit.errors import SeedkitError, run_main
from seedkit.models.config import build_from_config, load_backbone_config
from seedkit.models.onnx_backbone import write_metadata

REPO = Path(__file__).resolve().parents[2]
WESPEAKER_META = {"framework": "wespeaker", "language": "English", "url": "test",
                  "comment": "test", "sample_rate": 16000, "output_dim": 24,
                  "normalize_samples": 0}
THREED_META = {"framework": "3d-speaker", "language": "English", "url": "test",
               "comment": "test", "sample_rate": 16000, "output_dim": 24,
               "normalize_samples": 1, "feature_normalize_type": "global-mean"}


class TinySpeakerNet(nn.Module):
    """fbank [B, T, n_mels] -> [B, D]: conv + ReLU, mean and std over time, linear."""

    def __init__(self, n_mels: int = 80, dim: int = 24, pool: bool = True):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, 32, 5, padding=2)
        self.fc = nn.Linear(64, dim)
        self.pool = pool

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(feats.transpose(1, 2) / 10.0))  # [B, 32, T]
        if not self.pool:
            return h.transpose(1, 2)  # [B, T, 32]: not an embedding
        stats = torch.cat([h.mean(dim=2), (h.var(dim=2) + 1e-5).sqrt()], dim=1)
        return self.fc(stats)


class WaveNet(nn.Module):
    """A waveform model [B, N] -> [B, D] (the wrong input for the ONNX backbone)."""

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.stack([wav.mean(dim=1), wav.std(dim=1)], dim=1)


def export(net: nn.Module, path: Path, meta: Optional[dict], rank: int = 3,
           n_mels: int = 80) -> Path:
    """Export ``net`` with dynamic B and T (sherpa-onnx's names) and ``meta`` as metadata."""
    torch.manual_seed(0)
    net.eval()
    x = torch.randn(2, 50, n_mels) if rank == 3 else torch.randn(2, 8000)
    axes = {0: "B", 1: "T"} if rank == 3 else {0: "B", 1: "N"}
    with warnings.catch_warnings():  # the TorchScript exporter: fast, and deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (x,), str(path), input_names=["x"], output_names=["embedding"],
                          dynamic_axes={"x": axes, "embedding": {0: "B"}}, opset_version=17,
                          dynamo=False)
    if meta is not None:
        write_metadata(path, meta)
    return path


def tiny_model(tmp_path: Path, meta: Optional[dict], name: str = "model.onnx", **kw) -> Path:
    torch.manual_seed(1)
    net = TinySpeakerNet(**kw)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    return export(net, tmp_path / name, meta)


def tone(n: int, f0: float, seed: int) -> np.ndarray:
    return tone_data.tone(n, f0, seed, noise=0.02)


def make_data(root: Path, lengths: dict[str, int]) -> Path:
    return tone_data.make_data(root, lengths, f0=110, f0_step=40, noise=0.02)


def conf(tmp_path: Path, onnx_path: Path, extra: str = "", name: str = "onnx.yaml") -> Path:
    p = tmp_path / name
    p.write_text(f"model: ONNX\nonnx: {onnx_path}\n{extra}")
    return p


def sherpa_embed(model: Path, wav: Path) -> np.ndarray:
    cfg = sherpa_onnx.SpeakerEmbeddingExtractorConfig(model=str(model), num_threads=1,
                                                      provider="cpu")
    ext = sherpa_onnx.SpeakerEmbeddingExtractor(cfg)
    x, rate = sf.read(str(wav), dtype="float32")
    s = ext.create_stream()
    s.accept_waveform(sample_rate=rate, waveform=x)
    s.input_finished()
    return np.asarray(ext.compute(s), dtype=np.float32)


LENGTHS = {"a-1": 16000, "a-2": 23456, "b-1": 40123, "b-2": 9000}


@pytest.mark.parametrize("meta", [WESPEAKER_META, THREED_META], ids=["wespeaker", "3d-speaker"])
def test_seedkit_extract_matches_sherpa_onnx(tmp_path, meta):
    model = tiny_model(tmp_path, meta)
    data = make_data(tmp_path, LENGTHS)
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "seedkit-extract"), "--config",
         str(conf(tmp_path, model)), "--crop", "full", "--device", "cpu", "--num-threads", "1",
         "--no-progress", str(data), f"ark,scp:{out}/x.ark,{out}/x.scp"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ours = dict(read_embeddings(f"scp:{out}/x.scp"))
    assert sorted(ours) == sorted(LENGTHS)
    for utt in LENGTHS:
        ref = sherpa_embed(model, tmp_path / "wav" / f"{utt}.wav")
        assert ours[utt].shape == ref.shape == (24,)
        err = np.abs(ours[utt] - ref).max()
        rel = err / np.abs(ref).max()
        print(f"{meta['framework']} {utt}: max abs {err:.2e}, rel {rel:.2e}")
        assert rel <= 1e-4, (utt, rel)


def test_front_end_follows_metadata_and_conf(tmp_path):
    """The two metadata sets give different front ends (the fidelity test can fail), and conf
    keys override the metadata."""
    we = build_from_config(load_backbone_config(conf(tmp_path, tiny_model(tmp_path, WESPEAKER_META,
                                                                          "w.onnx"), "", "w.yaml")))
    td = build_from_config(load_backbone_config(conf(tmp_path, tiny_model(tmp_path, THREED_META,
                                                                          "t.onnx"), "", "t.yaml")))
    assert we.embed_dim == td.embed_dim == 24 and we.sample_rate == 16000
    assert (we.front_end.fbank.sample_scale, we.front_end.feature_normalize) == (32768.0, "none")
    assert (td.front_end.fbank.sample_scale, td.front_end.feature_normalize) == (1.0, "mean")
    for fe in (we.front_end, td.front_end):
        f = fe.fbank
        assert (f.window_type, f.snip_edges, f.high_freq, f.dither) == ("povey", False, -400, 0)
    wav = torch.from_numpy(np.stack([tone(16000, 150, 0), tone(16000, 200, 1)]))
    with torch.no_grad():
        a, b = we(wav), td(wav)
    assert a.shape == (2, 24) and (a - b).abs().max() > 1e-2
    # WeSpeaker's own export (no metadata): the conf says which front end
    bare = tiny_model(tmp_path, None, "bare.onnx")
    ws = build_from_config(load_backbone_config(conf(
        tmp_path, bare, "model_args:\n  frontend: wespeaker\n", "bare.yaml")))
    f = ws.front_end.fbank
    assert (f.window_type, f.snip_edges, f.high_freq, f.sample_scale) == ("hamming", True, 0, 32768)
    assert ws.front_end.feature_normalize == "mean"
    over = build_from_config(load_backbone_config(conf(
        tmp_path, tmp_path / "w.onnx", "model_args:\n  feature_normalize: mean\n  fbank: "
        "{window_type: hamming, snip_edges: true}\n  normalize_samples: true\n", "o.yaml")))
    f = over.front_end.fbank
    assert (f.window_type, f.snip_edges, f.sample_scale) == ("hamming", True, 1.0)
    assert over.front_end.feature_normalize == "mean"


def test_batched_crops_equal_one_by_one(tmp_path):
    model = build_from_config(load_backbone_config(conf(tmp_path, tiny_model(tmp_path,
                                                                             WESPEAKER_META))))
    wav = torch.from_numpy(np.stack([tone(32240, 100 + 20 * i, i) for i in range(5)]))
    with torch.no_grad():
        batch = model(wav)
        ones = torch.cat([model(wav[i:i + 1]) for i in range(5)])
    assert batch.shape == (5, 24)
    assert torch.allclose(batch, ones, rtol=1e-5, atol=1e-6)


def test_python_api(tmp_path):
    bb = seedkit.Backbone.load(conf(tmp_path, tiny_model(tmp_path, WESPEAKER_META)),
                               device="cpu")
    x = tone(32000, 140, 3)
    assert bb.embed(x, 16000).shape == (24,)
    assert bb.embed(x, 16000, crop="multi:3:1.0").shape == (3, 24)


def test_multi_crops_and_checkpoint_override(tmp_path, capsys):
    model = tiny_model(tmp_path, WESPEAKER_META)
    data = make_data(tmp_path, {"a-1": 30000, "b-1": 20000})
    other = tmp_path / "elsewhere.onnx"
    other.write_bytes(model.read_bytes())
    cfg = conf(tmp_path, tmp_path / "not-there.onnx")
    out = tmp_path / "out"
    status = run_main(extract_bin.main, prog="seedkit-extract", argv=[
        "--config", str(cfg), "--checkpoint", str(other), "--crop", "multi:3:1.5",
        "--device", "cpu", "--no-progress", str(data), f"ark,scp:{out}/x.ark,{out}/x.scp"])
    assert status == 0, capsys.readouterr().err
    embs = dict(read_embeddings(f"scp:{out}/x.scp"))
    assert embs["a-1"].shape == (3, 24) and np.all(np.isfinite(embs["b-1"]))


# ------------------------------------------------------------------------------ bad input
def extract_error(tmp_path: Path, cfg: Path, capsys, data: Optional[Path] = None) -> str:
    data = data or make_data(tmp_path, {"a-1": 16000})
    out = tmp_path / "out"
    status = run_main(extract_bin.main, prog="seedkit-extract", argv=[
        "--config", str(cfg), "--device", "cpu", "--no-progress", str(data),
        f"ark,scp:{out}/x.ark,{out}/x.scp"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("ERROR (seedkit-extract): ")]
    assert status == 1 and len(lines) == 1, err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    return lines[0]


def test_wrong_input_rank(tmp_path, capsys):
    model = export(WaveNet(), tmp_path / "wave.onnx", WESPEAKER_META, rank=2)
    line = extract_error(tmp_path, conf(tmp_path, model), capsys)
    assert f"{model}:0: " in line and "rank 2" in line and "[B, T, 80]" in line


def test_8khz_model_with_16khz_audio(tmp_path, capsys):
    model = tiny_model(tmp_path, {**WESPEAKER_META, "sample_rate": 8000})
    cfg = conf(tmp_path, model)
    line = extract_error(tmp_path, cfg, capsys)
    assert f"{cfg}:0: sample_rate 16000 disagrees" in line and "8000 Hz model" in line
    assert "seedkit-resample-data-dir" in line
    # a conf that says 8000 gets past the model, then each 16 kHz file is refused
    cfg8 = conf(tmp_path, model, "sample_rate: 8000\n", "c8.yaml")
    line = extract_error(tmp_path, cfg8, capsys)
    assert "16000" in line and "8000" in line


def test_missing_and_corrupt_onnx(tmp_path, capsys):
    cfg = conf(tmp_path, tmp_path / "missing.onnx")
    line = extract_error(tmp_path, cfg, capsys)
    assert f"{cfg}:2: ONNX model file {tmp_path / 'missing.onnx'} (key 'onnx') does not " \
           "exist" in line
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf" * 50)
    line = extract_error(tmp_path, conf(tmp_path, bad, "", "c2.yaml"), capsys)
    assert f"{bad}:0: cannot load this ONNX model" in line and "re-export" in line
    # nor a conf without 'onnx', nor one with a checkpoint beside it
    (tmp_path / "no.yaml").write_text("model: ONNX\n")
    line = extract_error(tmp_path, tmp_path / "no.yaml", capsys)
    assert "no.yaml:1: model ONNX needs the key 'onnx: path/to/model.onnx'" in line
    model = tiny_model(tmp_path, WESPEAKER_META)
    line = extract_error(tmp_path, conf(tmp_path, model, "checkpoint: w.pt\n", "c3.yaml"), capsys)
    assert "c3.yaml:3:" in line and "remove the key 'checkpoint'" in line


def test_output_not_b_by_d(tmp_path, capsys):
    model = export(TinySpeakerNet(pool=False), tmp_path / "frames.onnx", WESPEAKER_META)
    line = extract_error(tmp_path, conf(tmp_path, model), capsys)
    assert f"{model}:0: output 'embedding' has shape" in line and "[B, D]" in line


def test_no_metadata_needs_a_front_end(tmp_path, capsys):
    model = tiny_model(tmp_path, None)
    line = extract_error(tmp_path, conf(tmp_path, model), capsys)
    assert f"{model}:0: " in line and "no sherpa-onnx metadata" in line
    assert "model_args.frontend: wespeaker" in line
    line = extract_error(tmp_path, conf(tmp_path, model, "model_args: {frontend: kaldi}\n",
                                        "k.yaml"), capsys)
    assert "frontend 'kaldi' is not one of sherpa-onnx, wespeaker" in line


def test_onnx_key_on_a_torch_backbone(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: ECAPA_TDNN\nonnx: x.onnx\n")
    with pytest.raises(SeedkitError, match="c.yaml:2: key 'onnx' is read by model: ONNX only"):
        build_from_config(load_backbone_config(p), allow_random_weights=True)


# ------------------------------------------------------------------------------ recipe (slow)
@pytest.mark.slow
def test_mini_recipe_tiny_with_onnx_conf(tiny_run, tmp_path, monkeypatch):
    # stages 0-3 from the session's tiny run (they skip), stages 4-7 with the ONNX conf
    work = copy_run(tiny_run, tmp_path / "r", "exp/ge2e", "RESULTS.md")
    model = tiny_model(tmp_path, WESPEAKER_META)
    (work / "onnx_tiny.yaml").write_text(
        f"model: ONNX\nonnx: {model}\nsample_rate: 16000\nembed_dim: 24\ncrop: full\n"
        "batch_size: 40\n")
    proc = run_recipe(work, "--mini-size", "tiny", "--backbone-conf", "onnx_tiny.yaml")
    assert "onnx_tiny, pretrained weights" in proc.stdout and "RANDOM" not in proc.stdout
    results = (work / "RESULTS.md").read_text()
    assert "onnx_tiny" in results and "eval_mix" in results
    monkeypatch.chdir(work)  # the scp names its arks relative to the recipe dir
    embs = dict(read_embeddings("scp:exp/onnx_tiny/xvectors/eval_clean/xvector.scp"))
    assert embs and all(v.shape == (24,) for v in embs.values())


# ------------------------------------------------------------------------------ shipped confs
ONNX_CONFS = sorted(REPO.glob("egs/*/seed/conf/onnx_*.yaml"))


@pytest.mark.parametrize("path", ONNX_CONFS, ids=[p.name for p in ONNX_CONFS])
def test_shipped_onnx_confs(tmp_path, path):
    """Every key commented; the conf builds with a file of its kind put in (--checkpoint), and
    without the file it is refused (no random weights for an ONNX model)."""
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            assert "#" in line, f"{path.name}: uncommented line {line!r}"
    cfg = load_backbone_config(path)
    assert cfg.model == "ONNX" and cfg.onnx and cfg.checkpoint is None
    meta = None if "frontend" in cfg.model_args else WESPEAKER_META
    model = build_from_config(cfg, checkpoint=str(tiny_model(tmp_path, meta)))
    assert model.embed_dim == 24 and model.sample_rate == cfg.sample_rate
    with pytest.raises(SeedkitError, match="does not exist"):
        build_from_config(cfg, allow_random_weights=True)


def test_mini_recipe_check_backbone_onnx(tmp_path):
    script = REPO / "egs" / "mini" / "seed" / "local" / "check_backbone.py"
    model = tiny_model(tmp_path, WESPEAKER_META)
    good, bad = conf(tmp_path, model), conf(tmp_path, tmp_path / "nope.onnx", "", "bad.yaml")
    ok = subprocess.run([sys.executable, str(script), str(good), "false"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "pretrained", ok.stderr
    no = subprocess.run([sys.executable, str(script), str(bad), "true"], capture_output=True,
                        text=True)
    assert no.returncode == 1 and no.stdout == ""
    assert no.stderr.startswith(f"ERROR (check_backbone.py): {bad}:2: ONNX model file ")
    assert "--allow-random-backbone cannot stand in" in no.stderr
