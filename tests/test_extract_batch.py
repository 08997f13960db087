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
    seen: list[int] = []
    real = ex.Embedder.embed

    def spy(self, crops):
        seen.append(len(crops))
        return real(self, crops)

    monkeypatch.setattr(ex.Embedder, "embed", spy)
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
