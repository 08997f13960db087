"""SEED config: the shipped confs parse, typos and bad values are refused with file:line,
command-line overrides, hashing and diffs for resume."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from seedkit.errors import SeedkitError
from seedkit.seed.config import (
    DEFAULTS,
    HELP,
    RESUME_NEUTRAL,
    config_diff,
    config_hash,
    dump_config,
    merge_config,
    read_config_file,
    resolve_dims,
)

CONFS = sorted(REPO.glob("egs/*/seed/conf/seed_*.yaml"))


def test_every_key_documented():
    assert set(HELP) == set(DEFAULTS)


@pytest.mark.parametrize("path", CONFS, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_confs_parse(path):
    cfg = resolve_dims(merge_config(read_config_file(path)), 256)
    assert cfg["model_channels"] == 512 and cfg["clamp_scale"] == 16.0


def test_official_values_in_voxceleb_conf():
    cfg = merge_config(read_config_file(REPO / "egs/voxceleb/seed/conf/seed_rdm_mlp3.yaml"))
    assert (cfg["lr"], cfg["weight_decay"], cfg["optimizer"]) == (5e-4, 5e-5, "adamw")
    assert (cfg["train_timesteps"], cfg["t_star"], cfg["beta_schedule"]) == (1000, 50,
                                                                              "scaled_linear")
    assert cfg["train_normalize"] is False and cfg["sample_normalize"] is True
    assert cfg["batch_size"] == 1200 and cfg["ema_decay"] == 0.0


def test_unknown_key_and_bad_value_name_file_and_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("lr: 1.0e-3\n# comment\nlearning_rate: 3\n")
    with pytest.raises(SeedkitError) as ei:
        read_config_file(p)
    assert ei.value.line == 3 and "unknown SEED config key 'learning_rate'" in str(ei.value)
    p.write_text("batch_size: 12\nobjective: score-matching\n")
    with pytest.raises(SeedkitError, match=re.escape(
            "objective must be one of diffusion|regression, got 'score-matching'")) as ei:
        read_config_file(p)
    assert ei.value.line == 2
    p.write_text("lr: 5e-4\n")  # YAML 1.1 reads this as a string
    assert read_config_file(p) == {"lr": 5e-4}
    p.write_text("train_normalize: 1\n")
    with pytest.raises(SeedkitError, match="true or false"):
        read_config_file(p)
    p.write_text("- a\n- b\n")
    with pytest.raises(SeedkitError, match="mapping"):
        read_config_file(p)
    with pytest.raises(SeedkitError, match="t_star=1000 must be below train_timesteps"):
        merge_config({"t_star": 1000})
    with pytest.raises(SeedkitError, match="ema_decay must be in"):
        merge_config({"ema_decay": 1.0})


def _overrides(*argv: str):
    """The overrides seedkit-train-seed's command line gives (its one override path)."""
    from seedkit.bin.train_seed import get_parser

    return get_parser().parse_args([*argv, "exp"]).config_overrides


def test_overrides_from_the_command_line():
    over = _overrides("--lr", "1e-3", "--batch-size=64", "--train-normalize", "true",
                      "--max-steps", "null", "--seed", "3")
    assert over == {"lr": 1e-3, "batch_size": 64, "train_normalize": True, "max_steps": None,
                    "seed": 3}
    assert _overrides("--set", "lr=1e-3", "--set", "batch-size=64") == {"lr": 1e-3,
                                                                        "batch_size": 64}
    assert _overrides("--epochs", "2", "--set", "epochs=3") == {"epochs": 3}  # last one wins
    assert _overrides() is None
    with pytest.raises(SeedkitError, match="unknown SEED config key 'bogus'"):
        _overrides("--set", "bogus=1")
    with pytest.raises(SeedkitError, match="bad override 'lr'; use key=value"):
        _overrides("--set", "lr")
    with pytest.raises(SeedkitError, match="lr must be > 0"):
        _overrides("--lr", "-1")
    with pytest.raises(SeedkitError, match="train_normalize must be true or false"):
        _overrides("--train-normalize", "yes please")


def test_a_missing_value_or_unknown_option_is_a_usage_error(capsys):
    from seedkit.bin import train_seed
    from seedkit.errors import run_main

    for argv in (["--lr"], ["--bogus", "1"]):
        assert run_main(train_seed.main, "seedkit-train-seed", ["exp", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("ERROR (seedkit-train-seed)") == 1, err


def test_every_key_is_an_option():
    from seedkit.bin.train_seed import get_parser

    text = get_parser().format_help()
    for key in DEFAULTS:
        assert "--" + key.replace("_", "-") + " VALUE" in text, key


def test_hash_and_diff_ignore_run_length_keys():
    a = resolve_dims(merge_config({"embed_dim": 8}))
    b = dict(a, epochs=a["epochs"] + 5, checkpoint_interval=3)
    assert config_hash(a) == config_hash(b)
    assert config_diff(a, b) == []
    c = dict(a, lr=1.0)
    assert config_hash(a) != config_hash(c)
    assert config_diff(a, c) == [("lr", a["lr"], 1.0)]
    assert {"epochs", "max_steps"} <= RESUME_NEUTRAL


def test_dump_round_trips(tmp_path):
    cfg = resolve_dims(merge_config({"embed_dim": 8, "adam_betas": [0.8, 0.9]}))
    p = tmp_path / "c.yaml"
    p.write_text(dump_config(cfg))
    assert merge_config(read_config_file(p)) == cfg
