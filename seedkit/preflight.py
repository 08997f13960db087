"""Checks a recipe runs before any download or job: do the models it will use load and fit?

``check_models`` builds the backbone of a conf and loads its checkpoint (strictly, as
``seedkit-extract`` will), then loads the SEED model (a seedkit checkpoint, or an official bare
RDM-MLP state dict with its conf, as ``seedkit-enhance`` will) and checks that its embedding size
is the backbone's. A wrong file then fails in seconds, with one error naming it, instead of after
hours of downloads and extraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seedkit.errors import PathLike, SeedkitError
from seedkit.models.config import build_from_config, load_backbone_config, resolve_checkpoint
from seedkit.seed.checkpoint import load_model


@dataclass
class ModelReport:
    """What the checked models are: backbone name, embedding size, weights, SEED model size."""

    backbone: str
    embed_dim: int
    backbone_weights: str  # "pretrained: <file>" or "random"
    seed_embed_dim: Optional[int] = None

    def lines(self) -> list[str]:
        out = [f"backbone {self.backbone} ({self.embed_dim}-d), weights: {self.backbone_weights}"]
        if self.seed_embed_dim is not None:
            out.append(f"SEED model: {self.seed_embed_dim}-d, fits the backbone")
        return out


def check_models(backbone_conf: PathLike, backbone_checkpoint: Optional[str] = None,
                 allow_random_weights: bool = False, seed_model: Optional[PathLike] = None,
                 seed_conf: Optional[PathLike] = None) -> ModelReport:
    """Load the backbone (and the SEED model when given) exactly as the recipe's stages will.

    Raises :class:`SeedkitError` naming the file when a checkpoint is missing, does not load into
    the conf's model, or when the SEED model's embedding size differs from the backbone's.
    """
    cfg = load_backbone_config(backbone_conf)
    ckpt = resolve_checkpoint(cfg, backbone_checkpoint or None)
    model = build_from_config(cfg, backbone_checkpoint or None, allow_random_weights)
    usable = ckpt is not None and Path(ckpt).is_file()
    report = ModelReport(cfg.model, int(model.embed_dim),
                         f"pretrained: {ckpt}" if usable else "random")
    if seed_model is None:
        return report
    if not Path(seed_model).is_file():
        raise SeedkitError("SEED model not found", seed_model)
    _, seed_cfg = load_model(seed_model, seed_conf)
    d = int(seed_cfg["embed_dim"])
    if d != report.embed_dim:
        raise SeedkitError(f"the SEED model enhances {d}-d embeddings but the backbone of "
                           f"{backbone_conf} ({cfg.model}) makes {report.embed_dim}-d ones; use "
                           "the SEED model trained for this backbone (or the matching "
                           "backbone conf)", seed_model)
    report.seed_embed_dim = d
    return report


__all__ = ["ModelReport", "check_models"]
