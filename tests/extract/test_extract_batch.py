"""``cpu_batch_size``: on a CPU, seedkit-extract passes at most that many crops per forward;
``--batch-size`` wins over the conf; a bad value is one error naming the conf line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import seedkit.extract as ex
from seedkit.errors import SeedkitError
from seedkit.models.config import batch_size_for, load_backbone_config

CONF = """model: ResNetSE34V2
model_args: {embed_dim: 8, n_mels: 16, channels: [8, 8, 8, 8], layers: [1, 1, 1, 1],
             attention_channels: 8}
embed_dim: 8
checkpoint: null
crop: multi:4:0.5
batch_size: 12
cpu_batch_size: 3
"""


def _data(tmp_path, n=3):
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        wav = tmp_path / f"u{i}.wav"
        sf.write(wav, 0.1 * rng.standard_normal(16000), 16000)
        lines.append((f"s-u{i}", str(wav)))
    (d / "wav.scp").write_text("".join(f"{k} {w}\n" for k, w in lines))
    (d / "utt2spk").write_text("".join(f"{k} s\n" for k, _ in lines))
    (d / "spk2utt").write_text("s " + " ".join(k for k, _ in lines) + "\n")
    return d


def count_batches(monkeypatch, method: str) -> list[int]:
    """The length of the batch each call of ``Embedder.<method>`` gets, in call order."""
    seen: list[int] = []
    real = getattr(ex.Embedder, method)

    def spy(self, batch):
        seen.append(len(batch))
        return real(self, batch)

    monkeypatch.setattr(ex.Embedder, method, spy)
    return seen


# 3 utterances x 4 crops; the pending utterances are embedded once their crops reach the batch size
@pytest.mark.parametrize("cpu_line, batch_size, forwards", [
    ("cpu_batch_size: 3", None, [4, 4, 4]),   # the conf's CPU size
    ("cpu_batch_size: 3", 8, [8, 4]),         # --batch-size wins
    ("cpu_batch_size: null", None, [12]),     # no CPU size: batch_size
])
def test_cpu_batch_size_bounds_each_forward(tmp_path, monkeypatch, cpu_line, batch_size,
                                            forwards):
    conf = tmp_path / "c.yaml"
    conf.write_text(CONF.replace("cpu_batch_size: 3", cpu_line))
    seen = count_batches(monkeypatch, "embed")
    ex.extract_data_dir(_data(tmp_path), f"ark:{tmp_path / 'o.ark'}", conf, device="cpu",
                        allow_random_weights=True, batch_size=batch_size, progress=False)
    assert seen == forwards


def test_batch_size_for_reads_the_device_kind(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text(CONF)
    cfg = load_backbone_config(conf)
    assert batch_size_for(cfg, "cpu") == 3 and batch_size_for(cfg, "cuda") == 12
    conf.write_text(CONF.replace("cpu_batch_size: 3", "cpu_batch_size: null"))
    assert batch_size_for(load_backbone_config(conf), "cpu") == 12


def test_bad_cpu_batch_size_names_the_line(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text(CONF.replace("cpu_batch_size: 3", "cpu_batch_size: 0"))
    with pytest.raises(SeedkitError, match="cpu_batch_size") as err:
        load_backbone_config(conf)
    assert err.value.line == 8


def test_ge2e_full_mode_batches_utterances_with_the_same_embeddings(tmp_path, monkeypatch):
    """GE2E in ``full`` mode: the partials of several utterances (different lengths) share one
    LSTM batch of up to batch_size partials; every embedding equals the one-utterance one."""
    from seedkit.embio import read_embeddings

    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(1)
    keys = []
    for i, sec in enumerate((1.0, 2.6, 4.1, 3.3, 1.7, 5.2)):
        wav = tmp_path / f"g{i}.wav"
        t = np.arange(int(sec * 16000)) / 16000
        sf.write(wav, 0.2 * np.sin(2 * np.pi * (120 + 20 * i) * t)
                 + 0.01 * rng.standard_normal(t.size), 16000)
        keys.append((f"s-g{i}", str(wav)))
    (d / "wav.scp").write_text("".join(f"{k} {w}\n" for k, w in keys))
    (d / "utt2spk").write_text("".join(f"{k} s\n" for k, _ in keys))
    (d / "spk2utt").write_text("s " + " ".join(k for k, _ in keys) + "\n")
    calls = count_batches(monkeypatch, "embed_many")
    out = {}
    for bs in (1, 12):
        calls.clear()
        ex.extract_data_dir(d, f"ark:{tmp_path / f'o{bs}.ark'}", None, device="cpu",
                            batch_size=bs, progress=False)
        out[bs] = read_embeddings(f"ark:{tmp_path / f'o{bs}.ark'}")
        assert sum(calls) == len(keys)
        if bs == 1:
            assert calls == [1] * len(keys)
        else:
            assert len(calls) < len(keys) and max(calls) > 1, calls
    for k, _ in keys:
        np.testing.assert_allclose(out[12][k], out[1][k], rtol=0, atol=1e-6)


@pytest.mark.parametrize("device, gpus, expected", [
    ("cuda", 4, ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1"]),
    (None, 3, ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1", "cuda:2"]),
    ("cuda", 1, ["cuda"] * 6),        # a Slurm job given one GPU sees one
    ("cuda:2", 4, ["cuda:2"] * 6),    # an explicit device is kept
    ("cpu", 4, ["cpu"] * 6),
])
def test_local_jobs_spread_over_the_gpus(monkeypatch, device, gpus, expected):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    assert [ex.device_for_job(device, j) for j in range(1, 7)] == expected
    assert ex.device_for_job(device, None) == device
    with pytest.raises(SeedkitError, match="job_index must be >= 1, got 0"):
        ex.device_for_job(device, 0)


def test_extract_embeddings_sh_gives_each_job_its_index(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import REPO

    data = _data(tmp_path, n=4)
    conf = tmp_path / "c.yaml"
    conf.write_text(CONF)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(REPO / "utils/extract_embeddings.sh"), "--nj", "2",
                           "--config", str(conf), "--device", "cpu",
                           "--allow-random-weights", "true", str(data), str(tmp_path / "xv")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for j in (1, 2):
        log = (tmp_path / "xv" / "log" / f"extract.{j}.log").read_text()
        assert f"on cpu (job {j})" in log, log
