"""SpeechBrain ECAPA-TDNN (``model: SpeechBrainECAPA``) against SpeechBrain's own forward pass.

SpeechBrain 1.1.2 (requirements.txt, test-only) builds the ``spkrec-ecapa-voxceleb`` pipeline of
``EncoderClassifier.encode_batch``: ``Fbank(n_mels=80)`` -> ``InputNormalization(norm_type=
"sentence", std_norm=False)`` -> ``ECAPA_TDNN(80, channels=[1024]*4+[3072], lin_neurons=192)`` on
seeded random weights with random BatchNorm running statistics; its state dict is saved as
SpeechBrain saves ``embedding_model.ckpt`` and given to the real ``seedkit-extract`` CLI.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN as SBECAPA
from speechbrain.processing.features import InputNormalization
from torch_threads import one_thread  # noqa: F401 (autouse)

from seedkit.embio import read_embeddings
from seedkit.models.config import build_from_config, load_backbone_config
from seedkit.models.speechbrain_ecapa import SpeechBrainECAPA

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "egs/voxceleb/seed/conf/speechbrain_ecapa.yaml"
LENGTHS = {"a-0": 11_000, "a-1": 36_480, "b-0": 65_537}  # 0.69 s, 2.28 s, 4.10 s


def speechbrain_model(seed: int = 0) -> SBECAPA:
    """SpeechBrain's ECAPA_TDNN as spkrec-ecapa-voxceleb builds it; random weights and BN stats."""
    torch.manual_seed(seed)
    model = SBECAPA(80, lin_neurons=192, channels=[1024, 1024, 1024, 1024, 3072],
                    kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1],
                    attention_channels=128)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_mean"):
                t.copy_(0.3 * torch.randn(t.shape, generator=g))
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("norm.norm.weight"):
                t.copy_(0.8 + 0.4 * torch.rand(t.shape, generator=g))
            elif name.endswith("norm.norm.bias"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    return model.eval()


def speechbrain_embed(model: SBECAPA, wav: torch.Tensor) -> torch.Tensor:
    """``EncoderClassifier.encode_batch(wav)`` of the hyperparams (normalize=False): [B, 192]."""
    lens = torch.ones(wav.shape[0])
    with torch.no_grad():
        feats = Fbank(n_mels=80, left_frames=0, right_frames=0, deltas=False)(wav.float())
        feats = InputNormalization(norm_type="sentence", std_norm=False)(feats, lens)
        return model(feats, lens).squeeze(1)


def voice(n: int, seed: int) -> np.ndarray:
    """A voiced-like test signal in [-1, 1] with some noise (16 kHz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    f0 = 110 + 40 * seed
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    x = 0.2 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t)) + 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)


def make_data(root: Path) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    wavs, u2s = [], []
    for i, (utt, n) in enumerate(sorted(LENGTHS.items())):
        path = root / f"{utt}.wav"
        sf.write(str(path), voice(n, i), 16000, subtype="PCM_16")
        wavs.append(f"{utt} {path}")
        u2s.append(f"{utt} {utt[0]}")
    (data / "wav.scp").write_text("\n".join(wavs) + "\n")
    (data / "utt2spk").write_text("\n".join(u2s) + "\n")
    return data


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def sb_model() -> SBECAPA:
    return speechbrain_model()


def test_state_dict_keys_and_shapes_equal_speechbrains(sb_model):
    ours = SpeechBrainECAPA().state_dict()
    theirs = sb_model.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    assert "blocks.0.conv.conv.weight" in ours and "asp_bn.norm.running_mean" in ours
    assert ours["fc.conv.weight"].shape == (192, 6144, 1)


def test_seedkit_extract_equals_speechbrain_forward(sb_model, tmp_path, venv_bin):
    ckpt = tmp_path / "embedding_model.ckpt"
    torch.save(sb_model.state_dict(), ckpt)  # what SpeechBrain's checkpointer writes
    data = make_data(tmp_path)
    out = tmp_path / "emb"
    proc = subprocess.run(
        [str(venv_bin / "seedkit-extract"), "--config", str(CONF), "--checkpoint", str(ckpt),
         "--crop", "full", "--device", "cpu", "--num-threads", "1", "--no-progress",
         str(data), f"ark,scp:{out}.ark,{out}.scp"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = read_embeddings(f"scp:{out}.scp")
    assert sorted(got) == sorted(LENGTHS)
    worst = 0.0
    for utt in LENGTHS:
        x, rate = sf.read(str(tmp_path / f"{utt}.wav"), dtype="float32")
        assert rate == 16000
        ref = speechbrain_embed(sb_model, torch.from_numpy(x)[None])[0]
        mine = torch.from_numpy(np.asarray(got[utt], dtype=np.float32))
        assert mine.shape == (192,)
        worst = max(worst, rel_diff(mine, ref))
    print(f"SpeechBrainECAPA vs SpeechBrain 1.1.2, seedkit-extract --crop full: max rel diff "
          f"{worst:.2e}")
    assert worst <= 1e-4


def test_batch_of_crops_equals_one_by_one(sb_model):
    model = SpeechBrainECAPA()
    model.load_state_dict(sb_model.state_dict())
    model.eval()
    wav = torch.from_numpy(np.stack([voice(32_240, s) for s in range(3)]))
    with torch.no_grad():
        batch = model(wav)
        ref = speechbrain_embed(sb_model, wav)
        one = torch.cat([model(w[None]) for w in wav])
    assert rel_diff(batch, ref) <= 1e-4
    assert rel_diff(one, batch) <= 1e-5


def test_mean_var_norm_emb_is_not_applied(sb_model):
    """The embedding is the raw fc output: an fc bias shift moves it by exactly that shift."""
    model = SpeechBrainECAPA()
    model.load_state_dict(sb_model.state_dict())
    model.eval()
    wav = torch.from_numpy(voice(16_000, 1))[None]
    with torch.no_grad():
        base = model(wav)
        model.fc.conv.bias += 5.0
        shifted = model(wav)
    assert torch.allclose(shifted - base, torch.full_like(base, 5.0), atol=1e-4)


def test_conf_builds_the_published_sizes():
    cfg = load_backbone_config(CONF)
    model = build_from_config(cfg, checkpoint="null", allow_random_weights=True)
    assert type(model) is SpeechBrainECAPA and model.embed_dim == 192 == cfg.embed_dim
    n = sum(p.numel() for p in model.parameters())
    assert 20_000_000 < n < 21_000_000  # the published embedding_model.ckpt: 20.8M parameters
    with torch.no_grad():
        assert model(torch.zeros(1, model.min_samples) + 0.01).shape == (1, 192)
