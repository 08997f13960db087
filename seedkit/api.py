"""seedkit's Python API: a SEED enhancer and a backbone on numpy arrays, no Kaldi files needed.

>>> import seedkit
>>> enh = seedkit.Enhancer.load("exp/seed/final.pt")  # official state dict: config=<YAML>
>>> out = enh.enhance(embeddings, seed=0)              # [N, D] or [D] -> the same shape
>>> bb = seedkit.Backbone.load("conf/resnetse34v2.yaml")  # or a release config
>>> e = bb.embed(waveform, 16000)                      # [D]; crop="multi:10:4.015": [10, D]

Both wrap the objects the command-line tools use (``seedkit-enhance`` loads its model through
:meth:`Enhancer.load`; ``seedkit-extract`` cuts and embeds with the same crop and model code), so
the numbers are the same: row r of ``enhance(x, seed=s, key=k)`` equals row r of entry ``k`` of
``seedkit-enhance --seed s``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from seedkit.crops import make_crops, parse_crop
from seedkit.device import parse_device
from seedkit.errors import PathLike, SeedkitError
from seedkit.seed.checkpoint import load_model
from seedkit.seed.enhance import RowEnhancer


def _device(device: str):
    return parse_device(device)


def _as_float32(array: Any, what: str) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    arr = np.asarray(array, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise SeedkitError(f"{what} holds NaN or inf values")
    return arr


class Enhancer:
    """A SEED model ready to enhance embeddings (one-step by default, as officially)."""

    def __init__(self, model, config: dict, device: str = "cpu", path: Optional[Path] = None):
        self.model = model
        self.config = config
        self.device = _device(device)
        self.path = path
        self.model.to(self.device).eval()

    @classmethod
    def load(cls, path: PathLike, config: Optional[PathLike] = None, device: str = "cpu",
             **overrides: Any) -> "Enhancer":
        """Load ``final.pt`` / a seedkit checkpoint, or an official SEED state dict with
        ``config`` (a seedkit SEED conf or the release's YAML as shipped). ``overrides`` are
        config keys (``t_star=25``, ``feature_ensemble=1.0``)."""
        model, cfg = load_model(path, config, overrides or None)
        return cls(model, cfg, device, Path(path))

    @property
    def embed_dim(self) -> int:
        return int(self.model.embed_dim)

    def enhance(self, array: Any, seed: int = 0, noise: Any = None, key: str = "",
                batch_size: int = 1024) -> np.ndarray:
        """Enhance ``[N, D]`` (or one ``[D]``) embeddings; returns float32 of the same shape.

        Row r's diffusion noise comes from ``(seed, key, r)`` exactly as ``seedkit-enhance``
        draws it for archive entry ``key``; ``noise`` (same shape) gives epsilon instead.
        """
        x = _as_float32(array, "the embeddings")
        if x.ndim not in (1, 2) or x.shape[-1] != self.embed_dim:
            raise SeedkitError(f"embeddings must be [N, {self.embed_dim}] or [{self.embed_dim}], "
                               f"got shape {x.shape}")
        eps = None
        if noise is not None:
            eps = {key: _as_float32(noise, "the noise")}
        run = RowEnhancer(self.model, str(self.device), seed, noise=eps,
                          noise_where="noise", batch_size=batch_size)
        return next(iter(run.stream([(key, x)])))[1]

    def __repr__(self) -> str:
        return (f"Enhancer({self.path}, D={self.embed_dim}, t*={self.config.get('t_star')}, "
                f"steps={self.config.get('sample_steps')}, device={self.device})")


class Backbone:
    """A frozen speaker model ready to embed waveforms."""

    def __init__(self, embedder, config):
        self.embedder = embedder
        self.config = config

    @classmethod
    def load(cls, conf: PathLike, checkpoint: Optional[PathLike] = None, device: str = "cpu",
             allow_random_weights: bool = False) -> "Backbone":
        """Build the backbone of ``conf`` (a seedkit backbone conf, or the release's YAML as
        shipped) and load ``checkpoint`` (default: the conf's)."""
        # imported here: the backbone stack (extract, the model modules) adds seconds to an
        # Enhancer-only program's start (import seedkit.api 6.6 s -> 12.3 s at load ~5)
        from seedkit.extract import build_embedder
        from seedkit.models.config import load_backbone_config

        cfg = load_backbone_config(conf)
        emb = build_embedder(cfg, None if checkpoint is None else str(checkpoint),
                             str(_device(device)), allow_random_weights)
        return cls(emb, cfg)

    @property
    def model(self):
        return self.embedder.model

    @property
    def embed_dim(self) -> int:
        return int(self.embedder.model.embed_dim)

    @property
    def sample_rate(self) -> int:
        return self.embedder.sample_rate

    def embed(self, waveform: Any, sample_rate: int, crop: str = "full", seed: int = 0,
              key: str = "") -> np.ndarray:
        """Embed one mono waveform (float in [-1, 1]): ``full`` and ``random:SEC`` give
        ``[D]``, ``multi:N:SEC`` gives ``[N, D]`` (the SEED evaluation crops); ``random`` crops
        start where ``seedkit-extract --seed seed`` starts them for utterance ``key``."""
        x = _as_float32(waveform, "the waveform")
        if x.ndim == 2 and 1 in x.shape:
            x = x.reshape(-1)
        if x.ndim != 1 or x.size == 0:
            raise SeedkitError(f"waveform must be a non-empty mono signal [N], got shape "
                               f"{x.shape}")
        if int(sample_rate) != self.sample_rate:
            raise SeedkitError(f"sample rate {sample_rate} Hz, but {self.config.model} takes "
                               f"{self.sample_rate} Hz audio; resample first")
        mode = parse_crop(crop)
        if mode.kind == "full" and self.embedder.embeds_many:
            return self.embedder.embed_many([x])[0]
        crops = make_crops(x, mode, self.sample_rate, seed, key, self.embedder.min_samples)
        out = self.embedder.embed(crops)
        return out if mode.kind == "multi" else out[0]

    def __repr__(self) -> str:
        return f"Backbone({self.config.model}, D={self.embed_dim}, device={self.embedder.device})"


ArrayLike = Union[np.ndarray, Any]
__all__ = ["Backbone", "Enhancer"]
