"""Backbone conf files (YAML) and building a ready-to-run backbone from one.

Keys (``egs/*/seed/conf/<backbone>.yaml``)::

    model: ResNetSE34V2        # registry name (see seedkit.models.available_backbones())
    model_module: null         # optional: module / .py file to import first (user backbones)
    model_args: {}             # constructor arguments (sizes, front-end settings)
    sample_rate: 16000         # audio must have this rate (checked per file)
    embed_dim: 512             # checked against the built model's output size
    checkpoint: path.model     # weights; ``resemblyzer`` = the GE2E file shipped in the
                               # resemblyzer package; null = none (needs --allow-random-weights)
    input_scale: 1.0           # waveform multiplier before the model (32768 = int16 scale)
    crop: full                 # default crop mode of seedkit-extract
    batch_size: 32             # crops per forward pass for fixed-length crop modes
    cpu_batch_size: null       # the same on a CPU (null: batch_size); large batches of long
                               # crops thrash a CPU's memory (ResNetSE34V2, 4 s crops: 40 per
                               # pass cost 2x the time per crop of 10)
    onnx: model.onnx           # model: ONNX only: the exported model (weights included, so no
                               # checkpoint); --checkpoint overrides it

Relative checkpoint paths are resolved against the current directory (the recipe directory).
"""

from __future__ import annotations

import importlib.util
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
import yaml

from seedkit import release
from seedkit.crops import parse_crop
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import read_text, yaml_key_lines
from seedkit.models.checkpoint import load_backbone_checkpoint
from seedkit.models.registry import (
    BackboneNet,
    build_backbone,
    get_backbone_class,
    import_model_module,
)

log = logging.getLogger(__name__)

KEYS = ("model", "model_module", "model_args", "sample_rate", "embed_dim", "checkpoint",
        "input_scale", "crop", "batch_size", "cpu_batch_size", "onnx")
RESEMBLYZER = "resemblyzer"
#: Largest integer a conf may give (a model size beyond it would exhaust memory, not train).
MAX_INT_ARG = 10_000_000


def check_model_args(args: Any, path: PathLike, line: int, where: str = "model_args") -> None:
    """Refuse non-finite numbers and absurd integers anywhere inside ``model_args``."""
    if isinstance(args, dict):
        for k, v in args.items():
            check_model_args(v, path, line, f"{where}.{k}")
    elif isinstance(args, (list, tuple)):
        for i, v in enumerate(args):
            check_model_args(v, path, line, f"{where}[{i}]")
    elif isinstance(args, float) and not math.isfinite(args):
        raise SeedkitError(f"{where} must be finite, got {args}", path, line)
    elif isinstance(args, int) and not isinstance(args, bool) and abs(args) > MAX_INT_ARG:
        raise SeedkitError(f"{where}={args} is out of range (at most {MAX_INT_ARG})", path, line)


@dataclass
class BackboneConfig:
    """A parsed backbone conf; ``lines`` maps each key to its line in the file (for errors)."""

    model: str = "GE2E"
    model_module: Optional[str] = None
    model_args: dict[str, Any] = field(default_factory=dict)
    sample_rate: int = 16000
    embed_dim: Optional[int] = None
    checkpoint: Optional[str] = RESEMBLYZER
    input_scale: float = 1.0
    crop: str = "full"
    batch_size: int = 32
    cpu_batch_size: Optional[int] = None
    onnx: Optional[str] = None
    path: Optional[Path] = None
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int:
        return self.lines.get(key, 0)


def load_backbone_config(path: Optional[PathLike]) -> BackboneConfig:
    """Parse and check a conf file; ``None`` gives the built-in GE2E/resemblyzer default."""
    if path is None:
        return BackboneConfig()
    p = Path(path)
    text = read_text(p, "backbone conf file", hint="pass an existing YAML file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise SeedkitError(f"invalid YAML: {getattr(err, 'problem', err)}", p,
                           mark.line + 1 if mark else 0) from None
    if not isinstance(data, dict):
        raise SeedkitError("a backbone conf must be a YAML mapping (model: ..., ...)", p)
    lines = yaml_key_lines(text)
    if release.is_release_config(data):
        return _from_release(data, p, lines)
    cfg = BackboneConfig(path=p, lines=lines)
    for key in data:
        if key not in KEYS:
            raise SeedkitError(f"unknown key {key!r}; allowed: {', '.join(KEYS)}", p,
                               lines.get(key, 0))
    if "model" not in data:
        raise SeedkitError("missing key 'model' (the backbone name, e.g. GE2E, ResNetSE34V2, "
                           "ECAPA_TDNN)", p)

    def typed(key: str, kind, allow_none: bool = False):
        value = data[key]
        if value is None and allow_none:
            return None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise SeedkitError(f"{key} must be a {kind.__name__}, got {value!r}", p,
                               lines.get(key, 0))
        return value

    cfg.model = typed("model", str)
    if "model_module" in data:
        cfg.model_module = typed("model_module", str, allow_none=True)
    if "model_args" in data:
        cfg.model_args = typed("model_args", dict, allow_none=True) or {}
    if "model_args" in data:
        check_model_args(cfg.model_args, p, lines.get("model_args", 0))
    if "sample_rate" in data:
        cfg.sample_rate = typed("sample_rate", int)
        if not 1000 <= cfg.sample_rate <= 384_000:
            raise SeedkitError(f"sample_rate must be in 1000..384000 Hz, got {cfg.sample_rate}",
                               p, lines.get("sample_rate", 0))
    if "embed_dim" in data:
        cfg.embed_dim = typed("embed_dim", int, allow_none=True)
        if cfg.embed_dim is not None and not 1 <= cfg.embed_dim <= MAX_INT_ARG:
            raise SeedkitError(f"embed_dim must be in 1..{MAX_INT_ARG}, got {cfg.embed_dim}",
                               p, lines.get("embed_dim", 0))
    if "checkpoint" in data:
        cfg.checkpoint = typed("checkpoint", str, allow_none=True)
    else:
        cfg.checkpoint = None
    if "input_scale" in data:
        cfg.input_scale = typed("input_scale", float)
        if not (math.isfinite(cfg.input_scale) and cfg.input_scale > 0):
            raise SeedkitError(f"input_scale must be a finite number > 0, got {cfg.input_scale}",
                               p, lines.get("input_scale", 0))
    if "crop" in data:
        cfg.crop = typed("crop", str)
        try:
            parse_crop(cfg.crop)
        except SeedkitError as err:
            raise SeedkitError(err.message, p, lines.get("crop", 0)) from None
    if "batch_size" in data:
        cfg.batch_size = typed("batch_size", int)
        if not 1 <= cfg.batch_size <= MAX_INT_ARG:
            raise SeedkitError(f"batch_size must be in 1..{MAX_INT_ARG}", p,
                               lines.get("batch_size", 0))
    if "cpu_batch_size" in data:
        cfg.cpu_batch_size = typed("cpu_batch_size", int, allow_none=True)
        if cfg.cpu_batch_size is not None and not 1 <= cfg.cpu_batch_size <= MAX_INT_ARG:
            raise SeedkitError(f"cpu_batch_size must be null or in 1..{MAX_INT_ARG}", p,
                               lines.get("cpu_batch_size", 0))
    if "onnx" in data:
        cfg.onnx = typed("onnx", str, allow_none=True)
    return cfg


def _from_release(data: dict, p: Path, lines: dict[str, int]) -> BackboneConfig:
    """A SEED release config (``configs/*.yaml`` as shipped) as a backbone conf: its backbone
    keys mapped (:func:`seedkit.release.map_backbone_config`, logged once), the rest as the
    seedkit confs of the same backbone (16 kHz, float input, 40 / 10 crops per pass)."""
    m = release.map_backbone_config(data, p, lines)
    release.log_once(m)
    src = {"model": "backbone" if "backbone" in data else "model",
           "embed_dim": "nOut", "model_args": "nOut",
           "checkpoint": ("pretrained_speaker_model" if "pretrained_speaker_model" in data
                          else "pretrained_backbone_model")}
    cfg = BackboneConfig(path=p, lines={k: lines.get(v, 0) for k, v in src.items()})
    v = m.values
    cfg.model = v["model"]
    cfg.model_args = dict(v["model_args"])
    cfg.embed_dim = v.get("embed_dim")
    cfg.checkpoint = v.get("checkpoint")
    cfg.batch_size, cfg.cpu_batch_size = 40, 10
    return cfg


def release_alternatives(path: Path) -> list[Path]:
    """Other names the same release checkpoint goes by (the ECAPA file is
    ``official_ecapatdnn.model`` as shipped, ``official_ecapa_tdnn.model`` in the README)."""
    for names in release.RELEASE_BACKBONE_FILES.values():
        if path.name in names:
            return [path.with_name(n) for n in names if n != path.name]
    return []


def batch_size_for(cfg: BackboneConfig, device_type: str) -> int:
    """Crops per forward pass on a device of ``device_type`` (``cpu`` reads ``cpu_batch_size``)."""
    if device_type == "cpu" and cfg.cpu_batch_size is not None:
        return cfg.cpu_batch_size
    return cfg.batch_size


def resemblyzer_checkpoint() -> Path:
    """Path of ``pretrained.pt`` inside the installed resemblyzer package (not imported)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise SeedkitError("checkpoint 'resemblyzer' needs the resemblyzer package for its GE2E "
                           "weights: pip install --no-deps resemblyzer==0.1.4 (tools/install.sh "
                           "does this)")
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / "pretrained.pt"
        if cand.is_file():
            return cand
    raise SeedkitError("resemblyzer is installed but has no pretrained.pt; reinstall "
                       "resemblyzer==0.1.4")


def resolve_checkpoint(cfg: BackboneConfig, override: Optional[str] = None) -> Optional[Path]:
    """The checkpoint file to load (``override`` beats the conf), or None when none is set."""
    value = override if override is not None else cfg.checkpoint
    if value is None or value == "" or value.lower() in ("none", "null", "random"):
        return None
    if value == RESEMBLYZER:
        return resemblyzer_checkpoint()
    path = Path(value)
    if not path.is_file():
        for alt in release_alternatives(path):
            if alt.is_file():
                log.info("%s not found; using %s (the same release file under its other name)",
                         path, alt)
                return alt
    return path


def model_file(cfg: BackboneConfig, override: Optional[str] = None) -> Path:
    """The model file of a backbone whose weights are in it (``onnx:``; the checkpoint override
    replaces it): it must exist, and ``checkpoint:`` must not be set beside it."""
    if override is None and cfg.checkpoint is not None:
        raise SeedkitError(f"model {cfg.model} reads its weights from the file in 'onnx:'; "
                           "remove the key 'checkpoint'", cfg.path, cfg.line("checkpoint"))
    value = override if override is not None else cfg.onnx
    if not value:
        raise SeedkitError(f"model {cfg.model} needs the key 'onnx: path/to/model.onnx' (the "
                           "exported model)", cfg.path, cfg.line("model"))
    path = Path(value)
    if not path.is_file():
        where = Param("checkpoint") if override is not None else "key 'onnx'"
        raise OptionError(f"ONNX model file {path} (", where, ") does not exist; give the "
                          "exported model file (relative paths are read from the current "
                          "directory)", path=cfg.path,
                          line=0 if override is not None else cfg.line("onnx"))
    return path


def build_from_config(cfg: BackboneConfig, checkpoint: Optional[str] = None,
                      allow_random_weights: bool = False, init_seed: int = 0) -> BackboneNet:
    """Build ``cfg``'s backbone in eval mode on the CPU and load its weights.

    Without a usable checkpoint this raises unless ``allow_random_weights``; random weights are
    drawn from ``init_seed`` so parallel jobs build identical models. The errors name
    ``checkpoint`` and ``allow_random_weights`` as parameters (:class:`seedkit.errors.Param`):
    a command's ERROR line names its options instead.
    """
    if cfg.model_module:
        import_model_module(cfg.model_module, cfg.path, cfg.line("model_module"))
    args = cfg.model_args
    file_arg = getattr(get_backbone_class(cfg.model, cfg.path, cfg.line("model")),
                       "model_file_arg", None)
    if file_arg:  # weights inside the model file (ONNX): the file is a constructor argument
        args = {**args, file_arg: str(model_file(cfg, checkpoint))}
    elif cfg.onnx is not None:
        raise SeedkitError(f"key 'onnx' is read by model: ONNX only, not by {cfg.model}; "
                           "remove it", cfg.path, cfg.line("onnx"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = build_backbone(cfg.model, args, cfg.path, cfg.line("model"))
    model.eval()
    if model.sample_rate != cfg.sample_rate:
        hint = getattr(model, "sample_rate_hint", "set model_args.sample_rate if the model "
                                                  "supports other rates")
        raise SeedkitError(f"sample_rate {cfg.sample_rate} disagrees with model {cfg.model}, "
                           f"which expects {model.sample_rate} Hz ({hint})", cfg.path,
                           cfg.line("sample_rate"))
    if cfg.embed_dim is not None and cfg.embed_dim != model.embed_dim:
        raise SeedkitError(f"embed_dim {cfg.embed_dim} disagrees with model {cfg.model}, whose "
                           f"output has {model.embed_dim} dimensions", cfg.path,
                           cfg.line("embed_dim"))
    if file_arg:
        log.info("loaded %s from %s", cfg.model, args[file_arg])
        return model
    ckpt = resolve_checkpoint(cfg, checkpoint)
    where = Param("checkpoint") if checkpoint is not None else "conf key 'checkpoint'"
    if ckpt is None or not ckpt.is_file():
        what = ("no checkpoint is set" if ckpt is None
                else f"checkpoint {ckpt} does not exist")
        if not allow_random_weights:
            raise OptionError(f"{what} (", where, "); give the official weights file, or pass ",
                              Param("allow_random_weights", True), " to run with random weights "
                              "(tests only)", path=cfg.path, line=cfg.line("checkpoint"))
        log.warning("%s: using RANDOM weights for %s (init seed %d); embeddings are meaningless "
                    "for evaluation", what, cfg.model, init_seed)
        return model
    load_backbone_checkpoint(model, ckpt)
    log.info("loaded %s weights from %s", cfg.model, ckpt)
    return model


__all__ = [
    "BackboneConfig",
    "build_from_config",
    "load_backbone_config",
    "resemblyzer_checkpoint",
    "resolve_checkpoint",
]
