"""SEED model files: seedkit checkpoints and official (bare RDM-MLP state dict) checkpoints.

A seedkit file is a ``torch.save``'d dict with ``format: "seedkit-seed"`` and ``kind``:
  ``model``  (``final.pt``, ``checkpoints/best.pt``): ``config``, ``model`` (RDM-MLP state dict,
             official key names), ``step``, ``epoch``, ``selected_by``, ``dev_eer``;
  ``train``  (``checkpoints/ckpt-<step>.pt``): also ``optimizer``, ``ema``, ``rng``,
             ``config_hash``, ``data_fingerprint``, ``epoch``/``step_in_epoch``, dev history.
An official SEED checkpoint is ``torch.save(diffusion_network.state_dict())``: 40 tensors with
no prefix (``time_embed.0.weight`` ... ``out.2.bias``). It carries no config, so loading it needs
``--config`` (the network size follows from ``embed_dim``). Prefixes ``module.``,
``diffusion_network.`` and ``net.`` are stripped. Every file is read with
``torch.load(weights_only=True)``: a checkpoint is data, never code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_output
from seedkit.seed.config import (
    DEFAULTS,
    NETWORK_KEYS,
    SAMPLING_KEYS,
    check_value,
    config_diff,
    merge_config,
    read_config_file,
    resolve_dims,
)
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.network import RDMMLP

log = logging.getLogger(__name__)

FORMAT = "seedkit-seed"
_PREFIXES = ("module.", "diffusion_network.", "net.", "_orig_mod.")
CKPT_RE = re.compile(r"^ckpt-(\d{9})\.pt$")


def save_checkpoint(obj: Mapping[str, Any], path: PathLike) -> None:
    """Write ``obj`` (``torch.save``) to a temporary sibling, fsync it, then rename it to ``path``.

    A full disk (or any write error) removes the temporary and raises ``OSError`` naming ``path``
    (one ERROR line through :func:`seedkit.errors.run_main`), so an earlier checkpoint is never
    replaced by a partial one. The bytes are serialised in memory first: ``torch.save`` into a
    file turns a failed write into a ``RuntimeError`` without its errno.
    """
    buf = io.BytesIO()
    torch.save(dict(obj), buf)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())


def read_checkpoint(path: PathLike) -> Any:
    """``torch.load(weights_only=True)`` with a clear error for unreadable or foreign files."""
    p = Path(path)
    if not p.is_file():
        raise SeedkitError("model file not found", p)
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign data
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SeedkitError(f"not a SEED checkpoint (torch.load failed: {msg[:200]}); give a "
                           "seedkit final.pt/checkpoint or an official SEED diffusion "
                           "state dict", p) from None


def strip_prefix(sd: Mapping[str, Any], expected: set[str]) -> Optional[dict[str, Any]]:
    """The state dict with a known prefix removed so its keys equal ``expected``, or None."""
    keys = set(sd)
    if keys == expected:
        return dict(sd)
    for prefix in _PREFIXES + tuple(a + b for a in _PREFIXES for b in _PREFIXES):
        stripped = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if set(stripped) == expected:
            return stripped
    return None


def looks_like_rdm_mlp(sd: Any) -> bool:
    return (isinstance(sd, Mapping) and bool(sd)
            and all(isinstance(k, str) and torch.is_tensor(v) for k, v in sd.items())
            and any(k.endswith("input_proj.weight") for k in sd))


def load_official_state_dict(net: RDMMLP, sd: Mapping[str, Any], where: PathLike) -> None:
    """Load a bare (optionally prefixed) RDM-MLP state dict strictly into ``net``."""
    expected = set(net.state_dict())
    bare = strip_prefix(sd, expected)
    if bare is None:
        missing = sorted(expected - {k.split(".", 1)[-1] for k in sd} - set(sd))
        extra = sorted(set(sd) - expected)
        raise SeedkitError(
            f"state dict does not match the RDM-MLP of this config: missing {missing[:4]}"
            f"{'...' if len(missing) > 4 else ''}, unexpected {extra[:4]}"
            f"{'...' if len(extra) > 4 else ''}; check num_res_blocks in the config", where)
    own = net.state_dict()
    for k, v in bare.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise SeedkitError(
                f"{k} has shape {tuple(v.shape)} but the config gives {tuple(own[k].shape)}; "
                f"set embed_dim (and model_channels) in the config to match the checkpoint "
                f"(input_proj.weight is [C, D])", where)
        if not v.is_floating_point():
            raise SeedkitError(f"{k} has dtype {v.dtype}; expected floating point", where)
        if not bool(torch.isfinite(v).all()):
            raise SeedkitError(f"{k} holds NaN or inf values; the checkpoint is damaged (a "
                               "diverged training run?): use an earlier checkpoint", where)
    net.load_state_dict({k: v.float() for k, v in bare.items()}, strict=True)


def _official_dims(sd: Mapping[str, Any]) -> dict[str, int]:
    """embed_dim etc. read from a bare state dict (used when the config leaves them null)."""
    get = {k.split("input_proj.")[-1] if "input_proj." in k else k: v for k, v in sd.items()}
    w = next(v for k, v in sd.items() if k.endswith("input_proj.weight"))
    out = {"embed_dim": int(w.shape[1]), "model_channels": int(w.shape[0])}
    te = [v for k, v in sd.items() if k.endswith("time_embed.2.weight")]
    if te:
        out["time_embed_dim"] = int(te[0].shape[0])
    il = [v for k, v in sd.items() if k.endswith("res_blocks.0.in_layers.2.weight")]
    if il:
        out["bottleneck_channels"] = int(il[0].shape[0])
    blocks = {k.split("res_blocks.")[1].split(".")[0] for k in sd if "res_blocks." in k}
    out["num_res_blocks"] = len(blocks)
    del get
    return out


def build_model(cfg: Mapping[str, Any], where: Optional[PathLike] = None) -> SeedDiffusion:
    """``SeedDiffusion(cfg)`` with any construction failure as one :class:`SeedkitError`."""
    try:
        return SeedDiffusion(cfg)
    except SeedkitError:
        raise
    except Exception as err:  # torch raises RuntimeError, MemoryError, ... for bad sizes
        text = " ".join(str(err).split())[:300] or type(err).__name__
        raise SeedkitError(f"cannot build the SEED network (embed_dim={cfg.get('embed_dim')}, "
                           f"model_channels={cfg.get('model_channels')}): "
                           f"{type(err).__name__}: {text}; check the config", where) from None


def load_model(path: PathLike, config: Optional[PathLike] = None,
               overrides: Optional[Mapping[str, Any]] = None
               ) -> tuple[SeedDiffusion, dict[str, Any]]:
    """Load a seedkit checkpoint or an official state dict (the latter needs ``config``).

    With a seedkit checkpoint and a ``config``, the config must agree on the network keys;
    its sampling keys (t_star, sample_steps, ...) replace the checkpoint's. ``overrides``
    (command-line values) come last. Returns the model in eval mode and its resolved config.
    """
    obj = read_checkpoint(path)
    file_cfg = read_config_file(config) if config is not None else None
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        if not isinstance(obj.get("config"), Mapping) or "model" not in obj:
            raise SeedkitError("seedkit checkpoint without config or model; the file is damaged",
                               path)
        ckpt_cfg = {k: v for k, v in obj["config"].items() if k in DEFAULTS}
        cfg = merge_config(ckpt_cfg)
        if file_cfg:
            for k in NETWORK_KEYS:
                if k in file_cfg and file_cfg[k] is not None and file_cfg[k] != cfg[k]:
                    raise SeedkitError(
                        f"--config sets {k}={file_cfg[k]} but the checkpoint has {cfg[k]}; "
                        "drop the key or use the matching config", config)
            cfg = merge_config(cfg, {k: v for k, v in file_cfg.items() if k in SAMPLING_KEYS})
        cfg = merge_config(cfg, overrides)
        cfg = resolve_dims(cfg)
        model = build_model(cfg, path)
        weights = obj["model"]
        if obj.get("kind") == "train" and obj.get("ema") is not None:
            weights = obj["ema"]
        load_official_state_dict(model.net, weights, path)
    elif looks_like_rdm_mlp(obj):
        if file_cfg is None:
            raise SeedkitError("this is a bare RDM-MLP state dict (an official SEED checkpoint) "
                               "and carries no config; pass --config conf/seed_rdm_mlp3.yaml",
                               path)
        dims = _official_dims(obj)
        cfg = merge_config(file_cfg, overrides)
        if cfg["embed_dim"] is None:
            cfg["embed_dim"] = dims["embed_dim"]
        elif cfg["embed_dim"] != dims["embed_dim"]:
            raise SeedkitError(f"the config gives embed_dim {cfg['embed_dim']} (nOut in a release "
                               f"config) but the checkpoint {path} enhances "
                               f"{dims['embed_dim']}-d embeddings (input_proj.weight has shape "
                               f"[{dims['model_channels']}, {dims['embed_dim']}]); use the "
                               "config of this model's backbone", config)
        cfg = resolve_dims(cfg)
        model = build_model(cfg, path)
        load_official_state_dict(model.net, obj, path)
    else:
        what = type(obj).__name__
        if isinstance(obj, Mapping):
            what = f"a dict with keys {sorted(map(str, obj))[:5]}"
        raise SeedkitError(f"not a SEED checkpoint ({what}); give a seedkit final.pt/checkpoint "
                           "or an official SEED diffusion state dict", path)
    model.eval()
    return model, cfg


# --------------------------------------------------------------------------- training checkpoints
def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """The training checkpoints ``ckpt-<step>.pt`` in ``ckpt_dir`` as (step, path), oldest first."""
    if not ckpt_dir.is_dir():
        return []
    out = []
    for p in ckpt_dir.iterdir():
        m = CKPT_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def weights_digest(net: torch.nn.Module) -> str:
    """sha256 of the state dict (names and bytes): equal weights, equal digest."""
    h = hashlib.sha256()
    for k, v in net.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def model_file(cfg: Mapping[str, Any], weights: Mapping[str, torch.Tensor], step: int, epoch: int,
               selected_by: str, eer: Optional[float]) -> dict[str, Any]:
    """The ``kind: model`` file (``final.pt``, ``best.pt``) of ``weights``."""
    return {"format": FORMAT, "kind": "model", "config": dict(cfg),
            "model": {k: v.detach().cpu().clone() for k, v in weights.items()},
            "step": step, "epoch": epoch, "selected_by": selected_by, "dev_eer": eer}


def rng_state(dev: torch.device) -> dict[str, Any]:
    """The global torch / numpy / python (and CUDA) RNG states of this process (checkpoint data)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                  int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev)
    return state


def set_rng_state(state: Mapping[str, Any], dev: torch.device) -> None:
    """Restore the states :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    if dev.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], dev)


def read_resume_state(ckpt_dir: Path, resume: bool, cfg: Mapping[str, Any], fingerprint: str,
                      options: str) -> Optional[dict[str, Any]]:
    """The latest training checkpoint when resuming (None: start from scratch); refuses
    checkpoints without --resume, foreign files, another config and other data (``fingerprint``
    of the training data; ``options``: the command-line options that name it)."""
    existing = list_checkpoints(ckpt_dir)
    if existing and not resume:
        raise SeedkitError(f"{ckpt_dir} already holds checkpoints (latest step "
                           f"{existing[-1][0]}); pass --resume to continue, or use a new exp dir")
    if not existing:
        if resume:
            log.info("--resume given but %s has no checkpoint: starting from scratch", ckpt_dir)
        return None
    latest = existing[-1][1]
    state = read_checkpoint(latest)
    if not (isinstance(state, Mapping) and state.get("format") == FORMAT
            and state.get("kind") == "train"):
        raise SeedkitError("not a seedkit training checkpoint; remove it or use a new exp dir",
                           latest)
    diff = config_diff(state["config"], cfg)
    if diff:
        shown = "; ".join(f"{k}: {a!r} in checkpoint, {b!r} now" for k, a, b in diff)
        raise SeedkitError(f"cannot resume: the config differs from the checkpoint's in "
                           f"{len(diff)} key(s): {shown}. Use the same config, or a new "
                           "exp dir", latest)
    if state["data_fingerprint"] != fingerprint:
        changed = _changed_parts(state["data_fingerprint"], fingerprint)
        raise SeedkitError("cannot resume: the training pairs/embeddings differ from the "
                           f"ones this checkpoint was trained on{changed}; use the same "
                           f"{options}, or a new exp dir", latest)
    state["path"] = latest
    return state


def _changed_parts(old: str, new: str) -> str:
    """`` (changed: a, b)`` for fingerprints made of ``;``-separated ``name=hash`` parts (names
    the inputs that differ); empty otherwise, or when the kinds of data differ."""
    def parts(fp: str) -> dict[str, str]:
        return dict(p.split("=", 1) for p in fp.split(";") if "=" in p)

    a, b = parts(old), parts(new)
    if not a or not b or old.split(";")[0] != new.split(";")[0]:
        return ""
    names = [k for k in b if a.get(k) != b[k]]
    return f" (changed: {', '.join(names)})" if names else ""


__all__ = ["CKPT_RE", "FORMAT", "build_model", "check_value", "list_checkpoints", "load_model",
           "load_official_state_dict", "model_file", "read_checkpoint", "read_resume_state",
           "rng_state", "save_checkpoint", "set_rng_state", "strip_prefix", "weights_digest"]
