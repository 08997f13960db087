"""The SEED release's YAML configs, written here in their shipped form (keys and values of
docs/method.md §11: spaces before colons, ``lr : 5e-4`` read by YAML as a string, the
ECAPA config's ``model:`` key and missing keys), read as they are by the SEED and backbone
config readers, seedkit-train-seed, seedkit-enhance and seedkit-extract."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from release_configs import ECAPA_SEED, RESNET_SEED, official_sd

from seedkit import release
from seedkit.errors import SeedkitError
from seedkit.models.config import load_backbone_config, resolve_checkpoint
from seedkit.seed.config import load_config_file, merge_config, read_config_file

RESNET_BASELINE = """\
model: ResNetSE34V2
log_input: True
encoder_type: ASP
trainfunc: softmaxproto
batch_size : 800
nPerSpeaker: 1

nPerSpeaker: 1
nOut: 512
n_mels: 64

ptimizer : adamW

pretrained_backbone_model: ./pretrained/official_resnetse34V2.model


# Diffusion network parameters
train_diffusion : False
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_seed_half_resnet(tmp_path, caplog):
    p = write(tmp_path, "ResNetSE34V2_SEED_rdmmlp3.yaml", RESNET_SEED)
    with caplog.at_level(logging.INFO, logger="seedkit.release"):
        cfg, comment = load_config_file(p)
    assert cfg == {"embed_dim": 512, "num_res_blocks": 3, "objective": "diffusion",
                   "lr": 5e-4, "optimizer": "adamw", "batch_size": 1200,
                   "train_timesteps": 1000, "t_star": 50, "sample_steps": 1, "epochs": 301}
    merged = merge_config(cfg)
    assert merged["weight_decay"] == 5e-5 and merged["train_normalize"] is False
    # the mapping is logged once; each meaningless key warned about once
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "nOut: 512 -> embed_dim: 512" in infos[0].getMessage()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(w.split("release key ")[1].split(" ")[0] for w in warned) == sorted(
        ["'nPerSpeaker'", "'train_list'", "'test_list'", "'extra_test_list'", "'train_path'",
         "'test_path'", "'lr_decay_interval'"])
    caplog.clear()
    read_config_file(p)  # again: nothing logged a second time
    assert not [r for r in caplog.records if r.name == "seedkit.release"]
    assert comment.startswith("# read from the SEED release config")
    assert "batch_size: 300 utterances -> batch_size: 1200 pairs" in comment
    assert "sample_timesteps: 50 -> t_star: 50" in comment


def test_seed_half_ecapa_takes_release_defaults(tmp_path):
    p = write(tmp_path, "ECAPA_SEED_rdmmlp3.yaml", ECAPA_SEED)
    cfg, comment = load_config_file(p)
    # batch_size, train_timesteps and sample_timesteps are absent: the release's defaults
    assert cfg["batch_size"] == 800 and cfg["train_timesteps"] == 1000
    assert cfg["t_star"] == 50 and cfg["embed_dim"] == 256
    assert "(release default)" in comment


def test_backbone_half(tmp_path):
    r = load_backbone_config(write(tmp_path, "r.yaml", RESNET_SEED))
    assert (r.model, r.embed_dim, r.checkpoint) == ("ResNetSE34V2", 512,
                                                    "./pretrained/official_resnetse34V2.model")
    assert r.model_args == {"embed_dim": 512, "n_mels": 64, "log_input": True,
                            "encoder_type": "ASP"}
    e = load_backbone_config(write(tmp_path, "e.yaml", ECAPA_SEED))
    assert (e.model, e.embed_dim) == ("ECAPA_TDNN", 256)
    assert e.model_args == {"C": 1024, "embed_dim": 256, "n_mels": 80}
    # the ResNet baseline config names its backbone with model: (the release ignored it and
    # built ECAPA_TDNN); here it is the ResNet it means
    b = load_backbone_config(write(tmp_path, "b.yaml", RESNET_BASELINE))
    assert b.model == "ResNetSE34V2" and b.model_args["embed_dim"] == 512


def test_ecapa_checkpoint_found_under_either_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pretrained").mkdir()
    e = load_backbone_config(write(tmp_path, "e.yaml", ECAPA_SEED))
    (tmp_path / "pretrained" / "official_ecapa_tdnn.model").write_bytes(b"x")
    assert resolve_checkpoint(e).name == "official_ecapa_tdnn.model"
    (tmp_path / "pretrained" / "official_ecapatdnn.model").write_bytes(b"x")
    assert resolve_checkpoint(e).name == "official_ecapatdnn.model"


@pytest.mark.parametrize("edit, key, what", [
    (("backbone: ResNetSE34V2", "backbone: RawNet3"), "backbone", "unknown backbone"),
    (("predict_type : sample", "predict_type : epsilon"), "predict_type", "x0"),
    (("self_cond    : True", "self_cond    : False"), "self_cond", "clean denoiser"),
    (("lr_decay : 1", "lr_decay : 0.95"), "lr_decay", "constant learning rate"),
    (("conditional_diffusion : False", "conditional_diffusion : True"), "conditional",
     "only False is accepted"),
    (("normalize_type : l2", "normalize_type : meanstd"), "normalize_type", "meanstd"),
    (("diffusion_network  : rdm_mlp", "diffusion_network  : unet"), "diffusion_network",
     "rdm_mlp only"),
    (("optimizer : adamW", "optimizer : sgd"), "optimizer", "seedkit has adamW and adam"),
    (("normalize_type : l2", "normalize_type : l2\nfeature_ensemble : True"),
     "feature_ensemble", "raw embedding"),
    (("normalize_type : l2", "normalize_type : l2\nema : 0.999"), "ema", "broken"),
    (("normalize_type : l2", "normalize_type : l2\nmystery_key : 3"), "mystery_key", "unknown"),
])
def test_result_changing_keys_refused(tmp_path, edit, key, what):
    assert edit[0] in RESNET_SEED and what  # every case names the words its ERROR must hold
    text = RESNET_SEED.replace(edit[0], edit[1])
    p = write(tmp_path, "bad.yaml", text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith(key))
    loader = load_backbone_config if key == "backbone" else read_config_file
    with pytest.raises(SeedkitError) as err:
        loader(p)
    assert err.value.path == str(p) and err.value.line == line
    assert what in err.value.message


def test_baseline_config_is_not_a_seed_config(tmp_path):
    with pytest.raises(SeedkitError, match="baseline"):
        read_config_file(write(tmp_path, "b.yaml", RESNET_BASELINE))


def test_seedkit_confs_unchanged(tmp_path):
    """A seedkit conf is still read strictly: a typo is an unknown key, not a release config."""
    p = write(tmp_path, "s.yaml", "lr: 1e-3\nnum_res_block: 3\n")
    with pytest.raises(SeedkitError, match="unknown SEED config key 'num_res_block'"):
        read_config_file(p)
    assert not release.is_release_config(yaml.safe_load("lr: 1e-3\nbatch_size: 8\n"))


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_enhance_and_train_with_release_config(tmp_path):
    """seedkit-enhance on an official-layout 256-d model with the ECAPA release config equals
    the same with a seedkit conf; a ResNet (nOut 512) config on it is one ERROR line; training
    with the release config writes the mapping at the head of the exp dir's config.yaml."""
    from seedkit.embio import read_embeddings, write_embeddings

    sd = official_sd(256)
    torch.save(sd, tmp_path / "ecapa_SEED_evalseed_898.model")
    rng = np.random.default_rng(0)
    emb = {f"u{i}": rng.standard_normal(256).astype(np.float32) for i in range(6)}
    write_embeddings(f"ark,scp:{tmp_path}/x.ark,{tmp_path}/x.scp", emb.items())
    rel = write(tmp_path, "ECAPA_SEED_rdmmlp3.yaml", ECAPA_SEED)
    own = write(tmp_path, "own.yaml", "embed_dim: null\n")
    outs = {}
    for name, conf in (("rel", rel), ("own", own)):
        r = run("seedkit.bin.enhance", "--config", str(conf), "--seed", "898",
                str(tmp_path / "ecapa_SEED_evalseed_898.model"), f"scp:{tmp_path}/x.scp",
                f"ark:{tmp_path}/{name}.ark")
        assert r.returncode == 0, r.stderr
        outs[name] = read_embeddings(f"ark:{tmp_path}/{name}.ark")
    assert all(np.array_equal(outs["rel"][k], outs["own"][k]) for k in emb)
    resnet = write(tmp_path, "ResNetSE34V2_SEED_rdmmlp3.yaml", RESNET_SEED)
    r = run("seedkit.bin.enhance", "--config", str(resnet),
            str(tmp_path / "ecapa_SEED_evalseed_898.model"), f"scp:{tmp_path}/x.scp",
            f"ark:{tmp_path}/bad.ark")
    assert r.returncode == 1 and not (tmp_path / "bad.ark").exists()
    errs = [s for s in r.stderr.splitlines() if s.startswith("ERROR")]
    assert len(errs) == 1 and "embed_dim 512 (nOut" in errs[0] and "256-d" in errs[0]

    # training: clean/noisy pairs, a few steps
    noisy = {f"n{i}": v + 0.1 * rng.standard_normal(256).astype(np.float32)
             for i, v in enumerate(emb.values())}
    write_embeddings(f"ark,scp:{tmp_path}/n.ark,{tmp_path}/n.scp", noisy.items())
    (tmp_path / "utt2clean").write_text("".join(f"n{i} u{i}\n" for i in range(6)))
    r = run("seedkit.bin.train_seed", "--config", str(rel), "--clean", f"scp:{tmp_path}/x.scp",
            "--noisy", f"scp:{tmp_path}/n.scp", "--pairs", str(tmp_path / "utt2clean"),
            "--device", "cpu", "--max-steps", "2", "--batch-size", "4", str(tmp_path / "exp"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "exp" / "config.yaml").read_text()
    assert text.startswith("# read from the SEED release config")
    assert "nOut: 256 -> embed_dim: 256" in text
    cfg = yaml.safe_load(text)
    assert cfg["embed_dim"] == 256 and cfg["batch_size"] == 4 and cfg["t_star"] == 50
    assert r.stderr.count("release SEED config") == 1
    assert r.stderr.count("release key 'use_speaker_label' ignored") == 1


def test_extract_with_release_config(tmp_path):
    """seedkit-extract reads the release ECAPA config as its backbone conf."""
    import soundfile as sf

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "a.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    (data / "wav.scp").write_text(f"a {tmp_path}/a.wav\n")
    (data / "utt2spk").write_text("a a\n")
    (data / "spk2utt").write_text("a a\n")
    conf = write(tmp_path, "ECAPA_SEED_rdmmlp3.yaml", ECAPA_SEED)
    r = run("seedkit.bin.extract", "--config", str(conf), "--allow-random-weights",
            "--device", "cpu", "--no-progress", str(data), f"ark:{tmp_path}/e.ark")
    assert r.returncode == 0, r.stderr
    from seedkit.embio import read_embeddings

    assert read_embeddings(f"ark:{tmp_path}/e.ark")["a"].shape == (256,)
    bad = write(tmp_path, "bad.yaml", ECAPA_SEED.replace("model: ECAPA_TDNN", "model: RawNet3"))
    r = run("seedkit.bin.extract", "--config", str(bad), "--allow-random-weights",
            "--device", "cpu", "--no-progress", str(data), f"ark:{tmp_path}/f.ark")
    errs = [s for s in r.stderr.splitlines() if s.startswith("ERROR")]
    assert r.returncode == 1 and len(errs) == 1 and f"{bad}:2:" in errs[0]
    assert not (tmp_path / "f.ark").exists()
