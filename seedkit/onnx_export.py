"""ONNX export of the one-step SEED enhancer and of the ResNetSE34V2 / ECAPA-TDNN backbones.

Enhancer graph (``seedkit-export-onnx MODEL OUT.onnx``): inputs ``embeddings`` [B, D] and
``epsilon`` [B, D] (float32, B dynamic), output ``enhanced`` [B, D]:

    x = normalize(e) * s;  x_t = sqrt(acp_t*) x + sqrt(1 - acp_t*) eps;
    out = clamp(f(x_t, t*), +-clip) (+ a * x with feature_ensemble a)

t* and the schedule are constants of the graph (the time embedding at t* is folded in). The
caller draws epsilon (any N(0, I) source; seedkit's per-embedding draw is
:func:`seedkit.seed.enhance.keyed_noise`). The regression baseline takes no epsilon.

Backbone graph (``--backbone CONF``): input ``waveform`` [B, N] (16 kHz float in [-1, 1], B and N
dynamic), output ``embedding`` [B, D], the front end included.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from seedkit.api import Backbone, Enhancer
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_output

log = logging.getLogger(__name__)
OPSET = 18
#: Longest waveform the backbone graph is traced for (samples; one hour at 16 kHz).
MAX_SAMPLES = 16000 * 3600


class OneStepEnhancer(nn.Module):
    """The one-step enhancement of a SEED model as a plain function of (embeddings, epsilon)."""

    def __init__(self, model):
        super().__init__()
        cfg = model.cfg
        self.net = model.net
        self.regression = model.objective == "regression"
        t = int(cfg["regression_t"] if self.regression else cfg["t_star"])
        acp = model.schedule.alphas_cumprod[t]  # float32, as the torch path computes it
        self.a = float(acp.sqrt())
        self.b = float((1 - acp).sqrt())
        self.scale = float(model.scale)
        self.clip = float(model.clip_range)
        self.normalize = bool(cfg["sample_normalize"])
        self.mix = float(cfg.get("feature_ensemble") or 0.0)
        with torch.no_grad():
            emb = self.net.embed_time(torch.tensor([t]))
        self.register_buffer("time_emb", emb)

    def forward(self, embeddings: torch.Tensor, epsilon: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        x = embeddings
        if self.normalize:
            x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12) * self.scale
        h_in = x if self.regression else self.a * x + self.b * epsilon
        h = self.net.input_proj(h_in)
        for block in self.net.res_blocks:
            h = block(h, self.time_emb)
        out = self.net.out(h).clamp(-self.clip, self.clip)
        return out + self.mix * x if self.mix else out


def _write(fn, out: PathLike) -> None:
    """Run ``fn(tmp_path)`` and move the file into place only when it succeeded (the exporter's
    own progress lines are kept out of the log)."""
    quiet = [logging.getLogger(n) for n in ("onnxscript", "onnx_ir", "torch.onnx")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.WARNING)
    try:
        with atomic_output(out) as tmp:
            fn(tmp)
    finally:
        for q, lv in zip(quiet, levels):
            q.setLevel(lv)


def export_enhancer(model_path: PathLike, out: PathLike, config: Optional[PathLike] = None
                    ) -> dict:
    """Export a SEED model (``final.pt`` or an official state dict + config) to ``out``."""
    enh = Enhancer.load(model_path, config)
    if int(enh.config["sample_steps"]) != 1:
        raise SeedkitError(f"the model's config runs {enh.config['sample_steps']} DDIM steps; "
                           "only the one-step enhancer exports (set sample_steps: 1)",
                           config or model_path)
    mod = OneStepEnhancer(enh.model).eval()
    d = enh.embed_dim
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    x, eps = torch.randn(3, d), torch.randn(3, d)
    if mod.regression:
        args, names, shapes = (x,), ["embeddings"], {"embeddings": {0: batch}}
    else:
        args, names = (x, eps), ["embeddings", "epsilon"]
        shapes = {"embeddings": {0: batch}, "epsilon": {0: batch}}

    def run(tmp: Path) -> None:
        with torch.no_grad():
            torch.onnx.export(mod, args, str(tmp), input_names=names, output_names=["enhanced"],
                              dynamic_shapes=shapes, dynamo=True, opset_version=OPSET,
                              external_data=False, verbose=False, optimize=False)
    # (onnxscript's graph optimiser halves nothing here but doubles the export time;
    # onnxruntime optimises the graph when it loads it)

    _write(run, out)
    info = {"kind": "enhancer", "embed_dim": d, "inputs": names,
            "t": int(enh.config["regression_t" if mod.regression else "t_star"])}
    log.info("wrote %s: one-step SEED enhancer, D=%d, t*=%d, inputs %s, dynamic batch", out, d,
             info["t"], ", ".join(names))
    return info


def export_backbone(conf: PathLike, out: PathLike, checkpoint: Optional[PathLike] = None,
                    allow_random_weights: bool = False) -> dict:
    """Export the backbone of ``conf`` (ResNetSE34V2 or ECAPA_TDNN) to ``out``."""
    bb = Backbone.load(conf, checkpoint, "cpu", allow_random_weights)
    name = bb.config.model
    if name not in ("ResNetSE34V2", "ECAPA_TDNN"):
        raise SeedkitError(f"ONNX export covers ResNetSE34V2 and ECAPA_TDNN; {name} (GE2E: an "
                           "LSTM over a varying number of partials) does not export", conf)
    model = bb.model.eval()
    scale = float(bb.config.input_scale)
    if scale != 1.0:
        raise SeedkitError(f"input_scale {scale} is not part of the exported graph; export "
                           "with input_scale 1.0 and scale the waveform yourself", conf)
    # ECAPA's graph specialises batch 1 away at trace time (a broadcast guard); the graph it
    # gives is the same for any batch, and batch 1 is checked in the tests.
    low = 2 if name == "ECAPA_TDNN" else 1
    batch = torch.export.Dim("batch", min=low, max=4096)
    samples = torch.export.Dim("samples", min=1024, max=MAX_SAMPLES)
    wav = torch.randn(2, 16000) * 0.1

    def run(tmp: Path) -> None:
        with torch.no_grad():
            torch.onnx.export(model, (wav,), str(tmp), input_names=["waveform"],
                              output_names=["embedding"],
                              dynamic_shapes={"wav": {0: batch, 1: samples}}, dynamo=True,
                              opset_version=OPSET, external_data=False, verbose=False)

    _write(run, out)
    log.info("wrote %s: %s backbone, waveform [B, N] -> embedding [B, %d]", out, name,
             bb.embed_dim)
    return {"kind": "backbone", "model": name, "embed_dim": bb.embed_dim,
            "min_samples": max(1024, int(model.min_samples))}


__all__ = ["OneStepEnhancer", "export_backbone", "export_enhancer"]
