"""Checkpoint loading, the backbone registry and backbone conf files (fast: tiny models)."""

from __future__ import annotations

import argparse
import re
import textwrap
from pathlib import Path

import pytest
import torch

from seedkit.cli import option_names
from seedkit.errors import SeedkitError
from seedkit.models import available_backbones, build_backbone, get_backbone_class
from seedkit.models.checkpoint import (
    load_backbone_checkpoint,
    normalise_keys,
    read_checkpoint,
    unwrap_checkpoint,
)
from seedkit.models.config import build_from_config, load_backbone_config

REPO = Path(__file__).resolve().parents[2]
TINY_RESNET = dict(embed_dim=16, n_mels=16, channels=(8, 8, 16, 16), layers=(1, 1, 1, 1),
                   attention_channels=8)
TINY_ECAPA = dict(C=16, embed_dim=8, n_mels=16, scale=4, pool_channels=24, attention_channels=8,
                  se_bottleneck=8)


def tiny(name: str = "ResNetSE34V2"):
    torch.manual_seed(0)
    return build_backbone(name, TINY_RESNET if name == "ResNetSE34V2" else TINY_ECAPA).eval()


def state_of(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_registry_names():
    names = available_backbones()
    for n in ("ResNetSE34V2", "ECAPA_TDNN", "GE2E"):
        assert n in names
    assert get_backbone_class("ecapa_tdnn") is get_backbone_class("ECAPA_TDNN")


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(SeedkitError, match="unknown model 'ResNet99'.*ResNetSE34V2"):
        get_backbone_class("ResNet99")


def test_bad_model_args_named():
    with pytest.raises(SeedkitError, match="nOut.*accepted: embed_dim"):
        build_backbone("ResNetSE34V2", {"nOut": 512})


def test_user_backbone_in_one_file(tmp_path):
    (tmp_path / "my_net.py").write_text(textwrap.dedent("""
        import torch
        from seedkit.models.registry import BackboneNet, register_backbone

        @register_backbone("MyMeanNet")
        class MyMeanNet(BackboneNet):
            def __init__(self, embed_dim: int = 3):
                super().__init__()
                self.embed_dim = embed_dim
                self.proj = torch.nn.Linear(1, embed_dim)

            def forward(self, wav):
                return self.proj(wav.mean(dim=1, keepdim=True))
        """))
    conf = tmp_path / "my.yaml"
    conf.write_text(f"model: MyMeanNet\nmodel_module: {tmp_path / 'my_net.py'}\n"
                    "model_args: {embed_dim: 5}\nembed_dim: 5\ncheckpoint: null\n")
    model = build_from_config(load_backbone_config(conf), allow_random_weights=True)
    assert model(torch.zeros(2, 100)).shape == (2, 5)
    assert "MyMeanNet" in available_backbones()


@pytest.mark.parametrize("wrap", ["bare", "S_L", "module", "module_S", "msd", "model", "sd",
                                  "backbone"])
def test_accepted_layouts(wrap):
    sd = state_of(tiny())
    obj = {
        "bare": sd,
        "S_L": {**{f"__S__.{k}": v for k, v in sd.items()}, "__L__.W": torch.ones(2)},
        "module": {f"module.{k}": v for k, v in sd.items()},
        "module_S": {f"module.__S__.{k}": v for k, v in sd.items()},
        "msd": {"model_state_dict": sd, "epoch": 1},
        "model": {"model": sd},
        "sd": {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
        "backbone": {**{f"backbone.{k}": v for k, v in sd.items()},
                     "diffusion.w": torch.ones(3)},
    }[wrap]
    got = normalise_keys(unwrap_checkpoint(obj))
    assert set(got) == set(sd)
    model = tiny()
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    load_backbone_checkpoint(model, obj)
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_derived_buffers_and_num_batches_tracked_may_be_absent():
    sd = state_of(tiny())
    derived = set(tiny().derived_buffers)
    sd = {k: v for k, v in sd.items() if k not in derived and "num_batches_tracked" not in k}
    model = tiny()
    load_backbone_checkpoint(model, sd)
    assert torch.equal(model.state_dict()["torchfb.1.mel_scale.fb"],
                       tiny().state_dict()["torchfb.1.mel_scale.fb"])


def test_derived_buffer_that_disagrees_is_refused():
    sd = state_of(tiny())
    sd["torchfb.1.mel_scale.fb"] = sd["torchfb.1.mel_scale.fb"] * 2
    with pytest.raises(SeedkitError, match="front-end buffer torchfb.1.mel_scale.fb"):
        load_backbone_checkpoint(tiny(), sd)


def test_partial_load_names_missing_keys():
    sd = state_of(tiny())
    del sd["fc.weight"], sd["layer1.0.conv1.weight"]
    with pytest.raises(SeedkitError, match=r"2 missing key\(s\): layer1.0.conv1.weight, fc.weight"):
        load_backbone_checkpoint(tiny(), sd)


def test_unexpected_keys_named():
    sd = state_of(tiny())
    sd["extra.head.weight"] = torch.ones(2)
    with pytest.raises(SeedkitError, match=r"1 unexpected key\(s\): extra.head.weight"):
        load_backbone_checkpoint(tiny(), sd)


def test_shape_mismatch_names_key_and_shapes():
    sd = state_of(tiny())
    sd["fc.weight"] = torch.zeros(32, sd["fc.weight"].shape[1])
    with pytest.raises(SeedkitError, match=r"fc.weight: checkpoint \[32, 64\], model "
                                           r"ResNetSE34V2 \[16, 64\]"):
        load_backbone_checkpoint(tiny(), sd)


def test_checkpoint_of_the_wrong_model(tmp_path):
    torch.manual_seed(0)
    torch.save(build_backbone("ECAPA_TDNN").state_dict(), tmp_path / "ecapa.model")
    model = build_backbone("ResNetSE34V2")
    with pytest.raises(SeedkitError) as err:
        load_backbone_checkpoint(model, tmp_path / "ecapa.model")
    msg = str(err.value)
    assert "does not fit model ResNetSE34V2" in msg and "missing" in msg and "unexpected" in msg
    assert "looks like a ECAPA_TDNN checkpoint" in msg
    assert str(tmp_path / "ecapa.model") in msg


class _Evil:
    def __reduce__(self):
        return (print, ("this ran from a checkpoint",))


@pytest.mark.parametrize("payload", ["namespace", "reduce"])
def test_pickled_object_refused(tmp_path, payload, capsys):
    sd = state_of(tiny())
    extra = argparse.Namespace(lr=0.1) if payload == "namespace" else _Evil()
    torch.save({"model": sd, "args": extra}, tmp_path / "p.model")
    with pytest.raises(SeedkitError, match=r"pickled Python objects \(it needs .*weights_only"):
        read_checkpoint(tmp_path / "p.model")
    assert "this ran" not in capsys.readouterr().out


def test_corrupt_and_missing_checkpoint(tmp_path):
    (tmp_path / "bad.model").write_bytes(b"\x00not a torch file" * 10)
    with pytest.raises(SeedkitError, match="corrupt, not a PyTorch checkpoint"):
        read_checkpoint(tmp_path / "bad.model")
    with pytest.raises(SeedkitError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.model")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "nosd.model")
    with pytest.raises(SeedkitError, match="not a state dict"):
        read_checkpoint(tmp_path / "nosd.model")


def test_conf_errors_name_file_and_line(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("model: GE2E\nsample_rate: 16000\nembed_dims: 256\n")
    with pytest.raises(SeedkitError, match="unknown key 'embed_dims'") as err:
        load_backbone_config(conf)
    assert err.value.path == str(conf) and err.value.line == 3
    conf.write_text("model: GE2E\nembed_dim: 512\ncheckpoint: null\n")
    with pytest.raises(SeedkitError, match="embed_dim 512 disagrees") as err:
        build_from_config(load_backbone_config(conf), allow_random_weights=True)
    assert err.value.line == 2
    conf.write_text("model: NoSuchNet\n")
    with pytest.raises(SeedkitError, match="unknown model 'NoSuchNet'") as err:
        build_from_config(load_backbone_config(conf))
    assert err.value.line == 1


def test_missing_checkpoint_needs_allow_random_weights(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("model: ResNetSE34V2\nmodel_args: {embed_dim: 16, n_mels: 16, "
                    "channels: [8, 8, 16, 16], layers: [1, 1, 1, 1]}\n"
                    f"checkpoint: {tmp_path / 'official.model'}\n")
    cfg = load_backbone_config(conf)
    with pytest.raises(SeedkitError, match="does not exist.*allow_random_weights=True") as err:
        build_from_config(cfg)
    assert err.value.line == 3 and "--" not in err.value.message  # the library names no flag
    assert "(conf key 'checkpoint')" in err.value.format("prog")
    assert "pass --allow-random-weights to run" in err.value.format("prog")  # argparse's spelling
    with pytest.raises(SeedkitError) as err, option_names({"checkpoint": "--ckpt",
                                                           "allow_random_weights": "--random"}):
        build_from_config(cfg, str(tmp_path / "other.model"))
    assert "(checkpoint); give" in err.value.message
    assert re.search(r"\(--ckpt\); .* or pass --random to run", err.value.format("prog"))
    a = build_from_config(cfg, allow_random_weights=True)
    b = build_from_config(cfg, allow_random_weights=True)
    for k, v in a.state_dict().items():  # random init is the same in every job
        assert torch.equal(v, b.state_dict()[k])


@pytest.mark.parametrize("conf", sorted(str(p.relative_to(REPO)) for p in
                                        REPO.glob("egs/*/seed/conf/*.yaml")
                                        if not p.name.startswith("seed_")
                                        # ONNX confs: tests/models/test_backbone_onnx.py
                                        and not p.name.startswith("onnx_")
                                        # augmentation policies: tests/render/test_augment_policy.py
                                        and not p.name.startswith("augment_")
                                        # stage 2's expected source rates: test_resample_inplace
                                        and p.name != "corpus_rates.yaml"))
def test_shipped_backbone_confs_build(conf):
    cfg = load_backbone_config(REPO / conf)
    model = build_from_config(cfg, allow_random_weights=True)
    assert model.embed_dim == cfg.embed_dim
    assert model.sample_rate == cfg.sample_rate
    text = (REPO / conf).read_text()
    for line in text.splitlines():  # every key is commented
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            assert "#" in line, f"{conf}: uncommented line {line!r}"
