"""SEED configuration: one flat YAML mapping, defaults, checks, command-line overrides, hashing.

Every key, its default and its meaning is in :data:`DEFAULTS` / :data:`HELP` (also rendered in
``docs/seed.md``). A config file names only the keys it changes; unknown keys are errors (with
the file and line), so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import yaml

from seedkit import release
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import read_text, yaml_key_lines

DEFAULTS: dict[str, Any] = {
    # --- network (RDM-MLP) ---
    "embed_dim": None,
    "model_channels": None,
    "bottleneck_channels": None,
    "time_embed_dim": None,
    "num_res_blocks": 3,
    "dropout": 0.0,
    # --- diffusion process ---
    "objective": "diffusion",
    "train_timesteps": 1000,
    "beta_start": 1.0e-4,
    "beta_end": 0.02,
    "beta_schedule": "scaled_linear",
    "clamp_scale": None,
    "clip_sample_mult": 3.0,
    "train_normalize": False,
    "sample_normalize": True,
    "t_star": 50,
    "sample_steps": 1,
    "ddim_start": "full",
    "regression_t": 0,
    "feature_ensemble": 0.0,
    "add_identity_pairs": True,
    # --- optimisation ---
    "optimizer": "adamw",
    "lr": 5.0e-4,
    "weight_decay": 5.0e-5,
    "adam_betas": [0.9, 0.999],
    "adam_eps": 1.0e-8,
    "grad_clip": 0.0,
    "batch_size": 1200,
    "epochs": 300,
    "max_steps": None,
    "ema_decay": 0.0,
    "seed": 0,
    # --- bookkeeping ---
    "checkpoint_interval": 1000,
    "keep_checkpoints": 3,
    "log_interval": 50,
    "select": "last",
    "dev_batch_size": 4096,
}

HELP: dict[str, str] = {
    "embed_dim": "D, the embedding dimension; null = taken from the training data",
    "model_channels": "width C of the residual stream; null = 2*D (official)",
    "bottleneck_channels": "inner width of each residual block; null = C (official)",
    "time_embed_dim": "width of the timestep embedding MLP; null = D (official)",
    "num_res_blocks": "number of residual blocks (official: 3)",
    "dropout": "dropout inside the residual blocks (official: 0)",
    "objective": "diffusion (SEED) | regression (same net maps noisy->clean directly at a "
                 "fixed t, no diffusion noise; a baseline)",
    "train_timesteps": "T, number of diffusion steps (official: 1000)",
    "beta_start": "first beta (official: 1e-4)",
    "beta_end": "last beta (official: 0.02)",
    "beta_schedule": "scaled_linear (official) | linear",
    "clamp_scale": "scale s: test inputs are L2-normalised times s, outputs clamped to "
                   "+-clip_sample_mult*s; null = sqrt(D) (official)",
    "clip_sample_mult": "output clamp in units of clamp_scale (official: 3)",
    "train_normalize": "false (official): train on raw embeddings; true: L2-normalise and scale "
                       "by clamp_scale in training too, matching test time",
    "sample_normalize": "true (official): L2-normalise and scale test inputs by clamp_scale",
    "t_star": "timestep the test embedding is noised to for one-step enhancement (official: 50)",
    "sample_steps": "1 = one-step enhancement (official); N>1 = N-step DDIM (eta 0)",
    "ddim_start": "full: DDIM over diffusers' leading spacing of T (starts at e.g. 980, as the "
                  "original use_ddim path); t_star: N steps from t_star down to 0",
    "regression_t": "the fixed timestep fed to the net by the regression objective",
    "feature_ensemble": "0 (official): the output is the enhanced embedding; a > 0: enhanced + "
                        "a * (the normalised input), keeping part of the original embedding",
    "add_identity_pairs": "also train on (clean, clean) for every clean utterance in the pairs "
                          "(the paper's clean copy); skipped where the pair list has it already",
    "optimizer": "adamw (official) | adam",
    "lr": "learning rate, constant (official: 5e-4)",
    "weight_decay": "AdamW weight decay (official: 5e-5)",
    "adam_betas": "Adam betas",
    "adam_eps": "Adam epsilon",
    "grad_clip": "max gradient L2 norm; 0 = no clipping (official: none)",
    "batch_size": "pairs per optimiser step, over all processes (official: 1200 = 300 utts x 4)",
    "epochs": "passes over the pair list",
    "max_steps": "stop after this many optimiser steps (null = epochs decide)",
    "ema_decay": "0 = no EMA (official); e.g. 0.999: keep an EMA of the weights and use it for "
                 "dev scoring and final.pt",
    "seed": "seed of the initial weights, the pair order, t and epsilon",
    "checkpoint_interval": "write a resumable checkpoint every K steps (and at the end)",
    "keep_checkpoints": "how many step checkpoints to keep",
    "log_interval": "log loss and pairs/s every K steps",
    "select": "last | best_dev_eer: which weights become final.pt",
    "dev_batch_size": "embeddings per forward pass when scoring the dev trials",
}

# Keys that may differ between a checkpoint and the run resuming it: they change how long the run
# goes or what it records, never the weights it computes along the way.
RESUME_NEUTRAL = frozenset({"epochs", "max_steps", "checkpoint_interval", "keep_checkpoints",
                            "log_interval", "dev_batch_size"})
# Keys that define the network; an enhancement config must agree with the checkpoint on them.
NETWORK_KEYS = ("embed_dim", "model_channels", "bottleneck_channels", "time_embed_dim",
                "num_res_blocks")
# Keys that only change how a trained network is applied at test time.
SAMPLING_KEYS = ("clamp_scale", "clip_sample_mult", "sample_normalize", "t_star",
                 "sample_steps", "ddim_start", "regression_t", "objective", "feature_ensemble")

_CHOICES = {
    "objective": ("diffusion", "regression"),
    "beta_schedule": ("scaled_linear", "linear"),
    "ddim_start": ("full", "t_star"),
    "optimizer": ("adamw", "adam"),
    "select": ("last", "best_dev_eer"),
}
_INTS = {"embed_dim", "model_channels", "bottleneck_channels", "time_embed_dim",
         "num_res_blocks", "train_timesteps", "t_star", "sample_steps", "regression_t",
         "batch_size", "epochs", "max_steps", "seed", "checkpoint_interval", "keep_checkpoints",
         "log_interval", "dev_batch_size"}
_FLOATS = {"dropout", "beta_start", "beta_end", "clamp_scale", "clip_sample_mult", "lr",
           "weight_decay", "adam_eps", "grad_clip", "ema_decay", "feature_ensemble"}
_BOOLS = {"train_normalize", "sample_normalize", "add_identity_pairs"}
#: Largest SEED network accepted (the official one has about 2.4 million parameters).
MAX_PARAMS = 1_000_000_000
#: Upper bounds of integer keys (others: 2**31 - 1, what torch and numpy index with).
_INT_MAX = {"seed": 2**32 - 1, "train_timesteps": 100_000, "num_res_blocks": 1000,
            "sample_steps": 100_000}
#: Keys with a bounded real range: (lower test, upper test, the range in words).
_RANGES = {
    "dropout": (lambda v: v >= 0, lambda v: v < 1, "[0, 1)"),
    "beta_start": (lambda v: v > 0, lambda v: v < 1, "(0, 1)"),
    "beta_end": (lambda v: v > 0, lambda v: v < 1, "(0, 1)"),
    "ema_decay": (lambda v: v >= 0, lambda v: v < 1, "[0, 1)"),
}
_NULLABLE = {"embed_dim", "model_channels", "bottleneck_channels", "time_embed_dim",
             "clamp_scale", "max_steps"}


def read_config_file(path: PathLike) -> dict[str, Any]:
    """Read a YAML config (only the keys it sets), checking keys and value types.

    A config of the SEED release (``configs/*_SEED_rdmmlp3.yaml`` as shipped) is mapped onto
    seedkit's keys (:mod:`seedkit.release`; the mapping is logged once)."""
    return load_config_file(path)[0]


def load_config_file(path: PathLike) -> tuple[dict[str, Any], Optional[str]]:
    """:func:`read_config_file` plus, for a release config, its mapping as YAML comment lines
    (``None`` for a seedkit conf)."""
    p = Path(path)
    text = read_text(p, "config file", hint="pass an existing YAML file to --config")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", -1) + 1
        raise SeedkitError(f"not valid YAML: {err}", p, line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SeedkitError("expected a YAML mapping of 'key: value' lines", p, 1)
    lines = yaml_key_lines(text)
    if release.is_release_config(data):
        m = release.map_seed_config(data, p, lines)
        src = {"embed_dim": "nOut", "num_res_blocks": "diffusion_num_layers",
               "t_star": "sample_timesteps", "sample_steps": "sample_timesteps",
               "batch_size": "batch_size", "epochs": "max_epoch", "ema_decay": "ema",
               "train_normalize": "training_clamp_norm"}
        cfg = {k: check_value(k, v, p, lines.get(src.get(k, k), 0)) for k, v in m.values.items()}
        release.log_once(m)
        return cfg, m.comment()
    return {str(k): check_value(str(k), v, p, lines.get(str(k), 0))
            for k, v in data.items()}, None


def check_value(key: str, value: Any, path: Optional[PathLike] = None, line: int = 0) -> Any:
    """Check one key and value; returns the value (a float key given as "5e-4" becomes 5e-4)."""
    if key not in DEFAULTS:
        close = [k for k in DEFAULTS if k.split("_")[0] == key.split("_")[0]]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SeedkitError(f"unknown SEED config key {key!r}{hint}; see docs/seed.md for the "
                           "list", path, line)
    if value is None:
        if key in _NULLABLE:
            return value
        raise SeedkitError(f"{key} must not be null", path, line)
    if key in _FLOATS and isinstance(value, str):
        try:  # YAML 1.1 reads "5e-4" (no dot) as a string; accept it as the number it means
            value = float(value)
        except ValueError:
            pass
    bad = None
    if key in _INTS and (isinstance(value, bool) or not isinstance(value, int)):
        bad = "an integer"
    elif key in _FLOATS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        bad = "a number"
    elif key in _BOOLS and not isinstance(value, bool):
        bad = "true or false"
    elif key in _CHOICES and value not in _CHOICES[key]:
        bad = "one of " + "|".join(_CHOICES[key])
    elif key == "adam_betas" and not (
            isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) and 0 <= v < 1 for v in value)):
        bad = "a list of two numbers in [0, 1)"
    if bad:
        raise SeedkitError(f"{key} must be {bad}, got {value!r}", path, line)
    if key in _FLOATS and not math.isfinite(float(value)):
        raise SeedkitError(f"{key} must be finite, got {value!r}", path, line)
    if key in _INTS and abs(value) > _INT_MAX.get(key, 2**31 - 1):
        raise SeedkitError(f"{key}={value!r} is out of range (at most "
                           f"{_INT_MAX.get(key, 2**31 - 1)})", path, line)
    lo_hi = _RANGES.get(key)
    if lo_hi is not None:
        lo, hi, text = lo_hi
        if not (lo(value) and hi(value)):
            raise SeedkitError(f"{key} must be in {text}, got {value!r}", path, line)
    positive = {"batch_size", "train_timesteps", "sample_steps", "checkpoint_interval",
                "keep_checkpoints", "log_interval", "dev_batch_size", "num_res_blocks",
                "embed_dim", "model_channels", "bottleneck_channels", "time_embed_dim",
                "max_steps", "clamp_scale", "lr", "adam_eps", "clip_sample_mult"}
    if key in positive and value <= 0:
        raise SeedkitError(f"{key} must be > 0, got {value!r}", path, line)
    if key in {"epochs", "t_star", "regression_t", "seed", "weight_decay", "grad_clip",
               "dropout", "feature_ensemble"} and value < 0:
        raise SeedkitError(f"{key} must be >= 0, got {value!r}", path, line)
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` (value parsed as YAML) -> (key, value); dashes in the key become _.

    The one override path of seedkit-train-seed: its ``--some-key VALUE`` and ``--set
    some_key=VALUE`` options both come here (:func:`seedkit.cli.add_config_options`)."""
    if "=" not in text:
        raise SeedkitError(f"bad override {text!r}; use key=value")
    key, _, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, check_value(key, value, "<command line>", 0)


def merge_config(*layers: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """Defaults, then each layer in turn (later wins). Checks cross-key consistency."""
    cfg = copy.deepcopy(DEFAULTS)
    for layer in layers:
        if layer:
            for k, v in layer.items():
                cfg[k] = check_value(k, v)
    if cfg["beta_end"] <= cfg["beta_start"]:
        raise SeedkitError("beta_end must be larger than beta_start")
    for key in ("t_star", "regression_t"):
        if cfg[key] >= cfg["train_timesteps"]:
            raise SeedkitError(f"{key}={cfg[key]} must be below train_timesteps="
                               f"{cfg['train_timesteps']}")
    check_sampling(cfg, cfg["sample_steps"], cfg["t_star"])
    if cfg["epochs"] == 0 and cfg["max_steps"] is None:
        raise SeedkitError("epochs=0 and no max_steps: nothing would be trained (final.pt would "
                           "hold random weights); give epochs >= 1 or max_steps")
    return cfg


def check_sampling(cfg: Mapping[str, Any], steps: int, t_star: int,
                   steps_name: str = "sample_steps", t_star_name: str = "t_star") -> None:
    """Raise unless ``steps`` and ``t_star`` can run with the config's diffusion schedule."""
    big_t = int(cfg["train_timesteps"])
    if not 1 <= steps <= big_t:
        raise SeedkitError(f"{steps_name} must be in 1..{big_t} (train_timesteps), got {steps}")
    if not 0 <= t_star < big_t:
        raise SeedkitError(f"{t_star_name} must be in 0..{big_t - 1} (below train_timesteps), "
                           f"got {t_star}")
    if steps > 1 and cfg.get("ddim_start") == "t_star" and steps > t_star + 1:
        raise SeedkitError(f"{steps_name}={steps} DDIM steps from {t_star_name}={t_star} down "
                           f"to 0 repeat timesteps; use at most {t_star + 1} steps")


def resolve_dims(cfg: Mapping[str, Any], embed_dim: Optional[int] = None) -> dict[str, Any]:
    """Fill the null network sizes from D (data dimension when the config leaves it null)."""
    out = dict(cfg)
    if out["embed_dim"] is None:
        if embed_dim is None:
            raise SeedkitError("embed_dim is not set; give it in the config")
        out["embed_dim"] = int(embed_dim)
    elif embed_dim is not None and out["embed_dim"] != embed_dim:
        raise SeedkitError(f"config embed_dim={out['embed_dim']} but the embeddings have "
                           f"dimension {embed_dim}; fix embed_dim or use other embeddings")
    d = out["embed_dim"]
    out["model_channels"] = out["model_channels"] or 2 * d
    out["bottleneck_channels"] = out["bottleneck_channels"] or out["model_channels"]
    out["time_embed_dim"] = out["time_embed_dim"] or d
    c, b, te = out["model_channels"], out["bottleneck_channels"], out["time_embed_dim"]
    params = 2 * c * d + out["num_res_blocks"] * (2 * c * b + te * c) + 2 * te * te
    if params > MAX_PARAMS:
        raise SeedkitError(f"the network would have about {params:.3g} parameters (embed_dim={d}, "
                           f"model_channels={c}, bottleneck_channels={b}, time_embed_dim={te}, "
                           f"num_res_blocks={out['num_res_blocks']}); at most {MAX_PARAMS:.0e}: "
                           "use smaller sizes")
    out["clamp_scale"] = float(out["clamp_scale"] or math.sqrt(d))
    return out


def config_hash(cfg: Mapping[str, Any]) -> str:
    """sha256 over the keys that change the computed weights (all but RESUME_NEUTRAL)."""
    rel = {k: cfg[k] for k in sorted(cfg) if k not in RESUME_NEUTRAL}
    return hashlib.sha256(json.dumps(rel, sort_keys=True).encode()).hexdigest()[:16]


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any],
                ignore: frozenset = RESUME_NEUTRAL) -> list[tuple[str, Any, Any]]:
    """``(key, old, new)`` for every key that differs, ignoring ``ignore``."""
    keys = sorted(set(old) | set(new))
    return [(k, old.get(k), new.get(k)) for k in keys
            if k not in ignore and old.get(k) != new.get(k)]


def dump_config(cfg: Mapping[str, Any]) -> str:
    """YAML text in DEFAULTS order (stable, diff-friendly)."""
    ordered = {k: cfg[k] for k in DEFAULTS if k in cfg}
    ordered.update({k: v for k, v in cfg.items() if k not in ordered})
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)
