"""Loading backbone checkpoints: every official layout, weights only, no silent partial loads.

Accepted files (all read with ``torch.load(..., weights_only=True)``; a file that needs arbitrary
pickled Python objects is refused):
  * a bare state dict (``conv1.weight`` ...), the SEED/official layout;
  * voxceleb_trainer files: ``__S__.<key>`` model keys (stripped) and ``__L__.<key>`` loss keys
    (dropped);
  * ``{"model_state_dict": sd, ...}``, ``{"model": sd, ...}``, ``{"state_dict": sd, ...}`` and
    resemblyzer's ``{"model_state": sd, "step": ..., "optimizer_state": ...}``;
  * DataParallel ``module.`` and wrapper ``backbone.`` prefixes (stripped; when ``backbone.`` or
    ``__S__.`` keys exist, other top-level groups are dropped with a log line);
  * pyannote.audio's Lightning files (``{"state_dict": {"resnet.<key>": ...}, "pyannote.audio":
    {..., "specifications": <pickled pyannote class>}}``): the ``resnet.`` prefix is stripped like
    ``backbone.``, and pickled objects of the modules in ``METADATA_GLOBAL_PREFIXES`` are read as
    inert stand-ins (their classes are never imported, no code of theirs runs); every other
    pickled class is still refused.
Then every model key must be present (derived front-end buffers and ``num_batches_tracked`` may be
absent: they are computed / zero), no unknown key may remain (the backbone's
``ignored_checkpoint_keys`` excepted), and every shape must match.
"""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import torch

from seedkit.errors import PathLike, SeedkitError
from seedkit.models.registry import (
    BackboneNet,
    available_backbones,
    get_backbone_class,
    state_dict_keys_of,
)

log = logging.getLogger(__name__)

#: wrapper keys that hold the model's state dict, in the order they are tried
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model_state", "model")
#: prefixes stripped from every key (any number, any order)
STRIP_PREFIXES = ("module.",)
#: prefixes that select the backbone's keys when present (other groups are dropped)
MODEL_PREFIXES = ("__S__.", "backbone.", "resnet.")
#: prefixes that are always dropped (voxceleb_trainer loss heads)
DROP_PREFIXES = ("__L__.",)
#: modules whose pickled objects are metadata of known checkpoint layouts (pyannote.audio's task
#: specifications, Lightning's hyper-parameter dicts): read as inert stand-ins, never imported
METADATA_GLOBAL_PREFIXES = ("pyannote.audio.", "lightning.", "pytorch_lightning.",
                            "lightning_fabric.")
#: the recipe conf of each shipped backbone, named when a checkpoint fits another backbone
BACKBONE_CONFS = {"ResNetSE34V2": "conf/resnetse34v2.yaml", "ECAPA_TDNN": "conf/ecapa_tdnn.yaml",
                  "GE2E": "conf/ge2e.yaml", "SpeechBrainECAPA": "conf/speechbrain_ecapa.yaml",
                  "WeSpeakerResNet34": "conf/wespeaker_resnet34.yaml"}


class _MetadataStandIn:
    """What a pickled metadata object (see ``METADATA_GLOBAL_PREFIXES``) becomes: nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


def _load_with_metadata_stand_ins(path: Path) -> Optional[Any]:
    """``torch.load(weights_only=True)`` with the metadata classes replaced by stand-ins; None
    when the file pickles any other class (or none can be listed)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:
        return None
    if not names or not all(n.startswith(METADATA_GLOBAL_PREFIXES) for n in names):
        return None
    stand_ins = [(type(n.rsplit(".", 1)[-1], (_MetadataStandIn,), {}), n) for n in names]
    with torch.serialization.safe_globals(stand_ins):
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    log.info("checkpoint %s: pickled metadata %s read as inert stand-ins (never imported)", path,
             ", ".join(names))
    return obj


def _shorten(keys: list[str], n: int = 6) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" ... and {len(keys) - n} more" if len(keys) > n else "")


def torch_load_weights(path: PathLike) -> Any:
    """``torch.load(path, map_location='cpu', weights_only=True)`` with SeedkitErrors."""
    p = Path(path)
    if not p.is_file():
        raise SeedkitError("checkpoint file does not exist; check the path (conf key "
                           "'checkpoint' or --checkpoint)", path)
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        match = re.search(r"GLOBAL ([\w.]+)", text)
        if match is None and "Unsupported global" not in text:
            raise SeedkitError("cannot read checkpoint: the file is corrupt, not a PyTorch "
                               "checkpoint, or uses pickle features that torch.load("
                               "weights_only=True) refuses; re-save it with "
                               "torch.save(model.state_dict(), path)", path) from None
        obj = _load_with_metadata_stand_ins(p)
        if obj is not None:
            return obj
        what = f" (it needs {match.group(1)})" if match else ""
        raise SeedkitError(
            f"checkpoint contains pickled Python objects{what}, which seedkit refuses to load: "
            "it uses torch.load(weights_only=True), which never runs code from the file; "
            "re-save only the tensors with torch.save(model.state_dict(), path) in a trusted "
            "environment", path) from None
    except Exception as err:  # truncated zip, not a torch file, ...
        msg = " ".join(str(err).split())[:300]
        raise SeedkitError(f"cannot read checkpoint ({type(err).__name__}: {msg}); the file is "
                           "corrupt or not a PyTorch checkpoint", path) from None


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def unwrap_checkpoint(obj: Any, path: Optional[PathLike] = None) -> dict[str, torch.Tensor]:
    """Find the tensor dict inside a loaded checkpoint (bare or under a wrapper key)."""
    for _ in range(3):
        if _is_state_dict(obj):
            return dict(obj)
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if isinstance(obj, Mapping):
        bad = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        raise SeedkitError(
            "checkpoint is not a state dict: entries " + _shorten(bad) + " are not tensors and "
            f"no wrapper key ({', '.join(WRAPPER_KEYS)}) holds one", path)
    raise SeedkitError(f"checkpoint holds a {type(obj).__name__}, not a state dict", path)


def normalise_keys(sd: Mapping[str, torch.Tensor], path: Optional[PathLike] = None
                   ) -> dict[str, torch.Tensor]:
    """Strip ``module.``, select ``__S__.``/``backbone.`` groups, drop ``__L__.`` keys."""

    def strip(key: str) -> str:
        changed = True
        while changed:
            changed = False
            for p in STRIP_PREFIXES:
                if key.startswith(p):
                    key, changed = key[len(p):], True
        return key

    keys = {strip(k): v for k, v in sd.items()}
    keys = {k: v for k, v in keys.items() if not k.startswith(DROP_PREFIXES)}
    for prefix in MODEL_PREFIXES:
        if any(k.startswith(prefix) for k in keys):
            dropped = sorted({k.split(".", 1)[0] + "." for k in keys if not k.startswith(prefix)})
            if dropped:
                log.info("checkpoint %s: using the %s keys; dropping groups %s", path, prefix,
                         ", ".join(dropped))
            keys = {strip(k[len(prefix):]): v for k, v in keys.items() if k.startswith(prefix)}
    return keys


def read_checkpoint(path: PathLike) -> dict[str, torch.Tensor]:
    """Load ``path`` (weights only), unwrap it and normalise its keys."""
    return normalise_keys(unwrap_checkpoint(torch_load_weights(path), path), path)


def guess_model(keys: set[str], exclude: str = "") -> Optional[str]:
    """The registered backbone whose default key set best matches ``keys`` (None if none does).

    ``exclude`` names the model that did not fit (never suggested again).
    """
    classes = {}
    for name in available_backbones():
        cls = get_backbone_class(name)
        classes.setdefault(cls, cls.registry_name or name)
    skip = get_backbone_class(exclude) if exclude in available_backbones() else None
    best, best_score = None, 0.0
    for cls, name in classes.items():
        other = state_dict_keys_of(name)
        if cls is skip or not other:
            continue
        score = len(keys & other) / len(keys | other)
        if score > best_score:
            best, best_score = name, score
    return best if best_score >= 0.8 else None


def load_backbone_state(model: BackboneNet, state: Mapping[str, torch.Tensor],
                        path: Optional[PathLike] = None, derived_rtol: float = 1e-4) -> None:
    """Load a normalised state dict into ``model`` strictly (see the module docstring).

    Derived buffers present in ``state`` must agree with the model's own values within
    ``derived_rtol`` of their largest magnitude (else the conf's front end disagrees with the
    checkpoint) and are then loaded as stored.
    """
    name = getattr(model, "registry_name", type(model).__name__)
    own = model.state_dict()
    derived = set(getattr(model, "derived_buffers", ()))
    ignored = set(getattr(model, "ignored_checkpoint_keys", ()))
    state = {k: v for k, v in state.items() if k not in ignored}
    optional = derived | {k for k in own if k.endswith("num_batches_tracked")}
    missing = [k for k in own if k not in state and k not in optional]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_shorten(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_shorten(unexpected)}")
        guess = guess_model(set(state), exclude=name) if len(missing) > len(own) // 4 else None
        conf = f" (or use {BACKBONE_CONFS[guess]})" if guess in BACKBONE_CONFS else ""
        hint = (f"; it looks like a {guess} checkpoint: set 'model: {guess}' in the conf{conf}"
                if guess else "; check that the conf's model and model_args match the checkpoint")
        raise SeedkitError(f"checkpoint does not fit model {name}: " + "; ".join(parts) + hint,
                           path)
    merged: dict[str, torch.Tensor] = {}
    for key, ref in own.items():
        if key not in state:
            merged[key] = ref
            continue
        value = state[key]
        if tuple(value.shape) != tuple(ref.shape):
            raise SeedkitError(f"shape mismatch for {key}: checkpoint {list(value.shape)}, model "
                               f"{name} {list(ref.shape)}; check model_args (e.g. embed_dim, "
                               "channels, n_mels) against the checkpoint", path)
        if ref.is_floating_point():
            value = value.to(ref.dtype)
            if not bool(torch.isfinite(value).all()):
                raise SeedkitError(f"parameter {key} holds NaN or inf values; the checkpoint is "
                                   "damaged (a diverged training run?): use another one", path)
        if key in derived and ref.numel():
            scale = float(ref.abs().max()) or 1.0
            diff = float((value.double() - ref.double().to(value.device)).abs().max())
            if diff > derived_rtol * scale:
                raise SeedkitError(
                    f"front-end buffer {key} in the checkpoint differs from the one model {name} "
                    f"computes (max abs diff {diff:.3g}); the conf's front-end settings "
                    "(sample_rate, n_mels, f_min/f_max, n_fft, ...) do not match the checkpoint",
                    path)
        merged[key] = value
    model.load_state_dict(merged, strict=True)


def load_backbone_checkpoint(model: BackboneNet, source: Union[PathLike, Mapping[str, Any]]
                             ) -> None:
    """Load a checkpoint file (or an already loaded object) into ``model``."""
    if isinstance(source, Mapping):
        load_backbone_state(model, normalise_keys(unwrap_checkpoint(source)))
    else:
        load_backbone_state(model, read_checkpoint(source), source)


__all__ = [
    "load_backbone_checkpoint",
    "load_backbone_state",
    "normalise_keys",
    "read_checkpoint",
    "torch_load_weights",
    "unwrap_checkpoint",
]
