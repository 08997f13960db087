"""Config values checked against their real range before anything runs; model construction and
model loading failures as one SeedkitError; PLDA refuses degenerate data and damaged models."""

import io
import json

import numpy as np
import pytest
import torch

from seedkit.errors import SeedkitError
from seedkit.models.config import build_from_config, load_backbone_config
from seedkit.scoring.plda import load_plda, save_plda, train_plda_backend
from seedkit.seed.checkpoint import FORMAT, load_model, save_checkpoint
from seedkit.seed.config import merge_config, parse_override, read_config_file, resolve_dims
from seedkit.seed.diffusion import SeedDiffusion

SEED_BAD = [
    ("dropout: 1.5", "dropout must be in \\[0, 1\\)"),
    ("dropout: -0.1", "dropout"),
    ("adam_eps: -1.0e-8", "adam_eps must be > 0"),
    ("adam_eps: 0", "adam_eps must be > 0"),
    ("adam_betas: [0.9, 1.5]", "adam_betas must be a list of two numbers in"),
    ("adam_betas: [0.9]", "adam_betas"),
    ("beta_start: 0", "beta_start must be in"),
    ("beta_end: 1.0", "beta_end must be in"),
    ("clip_sample_mult: 0", "clip_sample_mult must be > 0"),
    ("lr: .nan", "lr must be finite"),
    ("lr: .inf", "lr must be finite"),
    ("weight_decay: -1", "weight_decay must be >= 0"),
    ("batch_size: 0", "batch_size must be > 0"),
    ("batch_size: 99999999999999", "out of range"),
    ("train_timesteps: 10000000", "out of range"),
    ("seed: -1", "seed must be >= 0"),
    ("seed: 99999999999", "out of range"),
    ("embed_dim: -5", "embed_dim must be > 0"),
    ("ema_decay: 1.0", "ema_decay must be in"),
    ("t_star: 1000", "t_star=1000 must be below"),
    ("sample_steps: 2000", "sample_steps must be in 1..1000"),
    ("sample_steps: 10\nddim_start: t_star\nt_star: 5", "repeat timesteps"),
    ("num_res_blocks: 1.5", "num_res_blocks must be an integer"),
    ("dropuot: 0.1", "unknown SEED config key"),
    ("objective: magic", "objective must be one of"),
]


@pytest.mark.parametrize("text,match", SEED_BAD, ids=[t for t, _ in SEED_BAD])
def test_seed_config_ranges(tmp_path, text, match):
    p = tmp_path / "seed.yaml"
    p.write_text(text + "\n")
    with pytest.raises(SeedkitError, match=match) as err:
        merge_config(read_config_file(p))
    assert "\n" not in str(err.value)


def test_seed_overrides_are_checked():
    with pytest.raises(SeedkitError, match="dropout"):
        parse_override("dropout=1.5")
    with pytest.raises(SeedkitError, match="adam_eps"):
        parse_override("adam-eps=-1e-8")


def _tiny_model_file(tmp_path, poison=None):
    cfg = resolve_dims(merge_config({"embed_dim": 4}))
    torch.manual_seed(0)
    m = SeedDiffusion(cfg)
    sd = {k: v.clone() for k, v in m.net.state_dict().items()}
    if poison:
        sd[poison][0] = float("nan")
    path = tmp_path / "final.pt"
    save_checkpoint({"format": FORMAT, "kind": "model", "config": dict(cfg), "model": sd}, path)
    return path


def test_enhance_steps_beyond_schedule(tmp_path):
    from seedkit.seed.enhance import RowEnhancer

    model, _ = load_model(_tiny_model_file(tmp_path))
    with pytest.raises(SeedkitError, match="--steps must be in 1..1000"):
        RowEnhancer(model, steps=2000)
    with pytest.raises(SeedkitError, match="--t-star must be in 0..999"):
        RowEnhancer(model, t_star=1000)
    with pytest.raises(SeedkitError, match="--t-star"):
        RowEnhancer(model, t_star=-1)


def test_seed_loader_refuses_non_finite_weights(tmp_path):
    path = _tiny_model_file(tmp_path, poison="input_proj.weight")
    with pytest.raises(SeedkitError, match="NaN or inf"):
        load_model(path)


def test_seed_bad_feature_ensemble_override(tmp_path):
    with pytest.raises(SeedkitError, match="feature_ensemble"):
        load_model(_tiny_model_file(tmp_path), overrides={"feature_ensemble": float("nan")})


BACKBONE_BAD = [
    ("model: ECAPA_TDNN\nembed_dim: -3\n", "embed_dim must be in 1.."),
    ("model: ECAPA_TDNN\nsample_rate: 0\n", "sample_rate must be in"),
    ("model: ECAPA_TDNN\ninput_scale: .nan\n", "input_scale must be a finite"),
    ("model: ECAPA_TDNN\ninput_scale: 0\n", "input_scale must be a finite"),
    ("model: ECAPA_TDNN\ncrop: multi:0:2\n", "crop"),
    ("model: ECAPA_TDNN\ncrop: sideways\n", "crop"),
    ("model: ECAPA_TDNN\nbatch_size: 0\n", "batch_size must be in"),
    ("model: ECAPA_TDNN\nmodel_args: {embed_dim: 100000000000}\n", "out of range"),
    ("model: ECAPA_TDNN\nmodel_args: {C: .inf}\n", "must be finite"),
]


@pytest.mark.parametrize("text,match", BACKBONE_BAD,
                         ids=[t.split("\n")[1] for t, _ in BACKBONE_BAD])
def test_backbone_conf_ranges(tmp_path, text, match):
    p = tmp_path / "bb.yaml"
    p.write_text(text)
    with pytest.raises(SeedkitError, match=match) as err:
        load_backbone_config(p)
    assert err.value.path == str(p)


@pytest.mark.parametrize("args", ["{embed_dim: -5}", "{C: -32}", "{n_mels: 0}"])
def test_backbone_construction_errors_are_one_line(tmp_path, args):
    p = tmp_path / "bb.yaml"
    p.write_text(f"model: ECAPA_TDNN\nmodel_args: {args}\ncheckpoint: null\n")
    with pytest.raises(SeedkitError, match="cannot build ECAPA_TDNN") as err:
        build_from_config(load_backbone_config(p), allow_random_weights=True)
    assert "\n" not in str(err.value)


def test_backbone_loader_refuses_non_finite(tmp_path):
    from seedkit.models.checkpoint import load_backbone_checkpoint

    p = tmp_path / "bb.yaml"
    p.write_text("model: ECAPA_TDNN\nmodel_args: {C: 32, embed_dim: 24, n_mels: 24, scale: 4, "
                 "pool_channels: 48, attention_channels: 8, se_bottleneck: 8}\ncheckpoint: null\n")
    model = build_from_config(load_backbone_config(p), allow_random_weights=True)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 1
               and "weight" in k)
    sd[key].view(-1)[0] = float("inf")
    ck = tmp_path / "bad.pt"
    torch.save(sd, ck)
    with pytest.raises(SeedkitError, match="NaN or inf"):
        load_backbone_checkpoint(model, ck)


# ----------------------------------------------------------------------------- PLDA

def _spk(n_spk, per):
    return np.repeat(np.arange(n_spk), per).astype(str)


def test_plda_no_within_speaker_variance():
    r = np.random.default_rng(0)
    x = np.repeat(r.normal(size=(6, 4)), 3, axis=0)
    with pytest.raises(SeedkitError, match="no within-speaker variance"):
        train_plda_backend(x, _spk(6, 3))


def test_plda_no_between_speaker_variance():
    r = np.random.default_rng(0)
    base = r.normal(size=(3, 4))
    x = np.concatenate([base] * 5)           # every speaker has the same three embeddings
    with pytest.raises(SeedkitError, match="no between-speaker variance"):
        train_plda_backend(x, _spk(5, 3), length_norm=False)


def test_plda_all_identical():
    x = np.ones((12, 4))
    with pytest.raises(SeedkitError, match="identical"):
        train_plda_backend(x, _spk(4, 3))


def test_plda_nothing_written_on_degenerate(tmp_path):
    import subprocess
    import sys

    from seedkit.embio import EmbeddingWriter

    r = np.random.default_rng(0)
    x = np.repeat(r.normal(size=(4, 3)), 2, axis=0).astype(np.float32)
    with EmbeddingWriter(f"ark,scp:{tmp_path}/x.ark,{tmp_path}/x.scp") as w:
        for i, v in enumerate(x):
            w.write(f"s{i // 2}-u{i}", v)
    (tmp_path / "utt2spk").write_text("".join(f"s{i // 2}-u{i} s{i // 2}\n" for i in range(8)))
    out = tmp_path / "plda"
    res = subprocess.run([sys.executable, "-m", "seedkit.bin.train_plda", f"scp:{tmp_path}/x.scp",
                          str(tmp_path / "utt2spk"), str(out)], capture_output=True, text=True)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.count("ERROR (") == 1 and "within-speaker" in res.stderr
    assert not out.exists()


def _good_backend():
    r = np.random.default_rng(1)
    x = r.normal(size=(30, 4)) + np.repeat(r.normal(size=(6, 4)) * 3, 5, axis=0)
    return train_plda_backend(x, _spk(6, 5))


@pytest.mark.parametrize("damage", ["nan_phi_w", "inf_mean", "missing_mu", "bad_shape",
                                    "no_length_norm", "meta_list"])
def test_plda_loader_refuses_damaged(tmp_path, damage):
    be = _good_backend()
    p = tmp_path / "plda"
    save_plda(be, p)
    z = dict(np.load(p))
    meta = json.loads(str(z["meta"]))
    if damage == "nan_phi_w":
        z["phi_w"] = z["phi_w"].copy()
        z["phi_w"][0, 0] = np.nan
    elif damage == "inf_mean":
        z["mean"] = z["mean"].copy()
        z["mean"][1] = np.inf
    elif damage == "missing_mu":
        del z["mu"]
    elif damage == "bad_shape":
        z["phi_b"] = np.eye(2)
    elif damage == "no_length_norm":
        del meta["length_norm"]
    elif damage == "meta_list":
        meta = [1, 2]
    z["meta"] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **z)
    p.write_bytes(buf.getvalue())
    with pytest.raises(SeedkitError) as err:
        load_plda(p)
    assert err.value.path == str(p)
