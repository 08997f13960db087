"""The SEED release README's "Configuration Reference" block (issue 23, item 5): its
``pretrained_speaker_model:`` is the backbone checkpoint, like the release configs'
``pretrained_backbone_model:``, and the block as printed is accepted by ``seedkit-enhance
--config`` (its ``num_layers: 3`` is the README's name for ``diffusion_num_layers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedkit.errors import SeedkitError
from seedkit.models.config import load_backbone_config
from seedkit.seed.config import load_config_file

#: the block as the release README prints it
README_BLOCK = """\
# Speaker Backbone
model: ResNetSE34V2
batch_size: 300
nOut: 512
pretrained_speaker_model: ./pretrained/official_resnetse34V2.model

# Diffusion
train_diffusion: True
diffusion_network: rdm_mlp
num_layers: 3
train_timesteps: 1000
sample_timesteps: 50
self_cond: True

# Optimizer
lr: 5e-4
optimizer: adamW
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "readme_block.yaml"
    p.write_text(text)
    return p


def test_readme_block_is_a_seed_config(tmp_path):
    values, comment = load_config_file(write(tmp_path, README_BLOCK))
    assert values["embed_dim"] == 512 and values["num_res_blocks"] == 3
    assert values["batch_size"] == 1200 and values["lr"] == pytest.approx(5e-4)
    assert "pretrained_speaker_model" in comment  # the backbone half's key, listed


@pytest.mark.parametrize("key", ["pretrained_speaker_model", "pretrained_backbone_model"])
def test_speaker_model_key_is_the_backbone_checkpoint(key, tmp_path):
    text = README_BLOCK.replace("pretrained_speaker_model", key) + "n_mels: 64\n"
    cfg = load_backbone_config(write(tmp_path, text))
    assert cfg.model == "ResNetSE34V2"
    assert cfg.checkpoint == "./pretrained/official_resnetse34V2.model"
    assert cfg.line("checkpoint") == 5


def test_both_checkpoint_keys_must_agree(tmp_path):
    text = README_BLOCK + "n_mels: 64\npretrained_backbone_model: ./pretrained/other.model\n"
    with pytest.raises(SeedkitError, match="disagrees with pretrained_backbone_model") as err:
        load_backbone_config(write(tmp_path, text))
    assert err.value.line == 5
    same = README_BLOCK + "n_mels: 64\n" \
        "pretrained_backbone_model: ./pretrained/official_resnetse34V2.model\n"
    assert load_backbone_config(write(tmp_path, same)).checkpoint.endswith("V2.model")


@pytest.mark.parametrize("extra", ["num_layers: 4", "num_layers: 3\ndiffusion_num_layers: 5"])
def test_readme_num_layers_other_than_the_release_default_is_refused(extra, tmp_path):
    text = README_BLOCK.replace("num_layers: 3\n", "") + extra + "\n"
    with pytest.raises(SeedkitError, match="set diffusion_num_layers instead"):
        load_config_file(write(tmp_path, text))
