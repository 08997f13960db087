"""SEED's training objective and its test-time enhancement, around one :class:`RDMMLP`.

Training (``docs/method.md`` §3): for a pair (y0 = paired clean-or-noisy embedding, x0 = clean
embedding), draw t ~ U{0..T-1} and eps ~ N(0, I), form y_t = sqrt(acp_t) y0 + sqrt(1-acp_t) eps
and regress the network output f(y_t, t) onto x0 with an L1 loss averaged over all elements.
Embeddings are used raw (``train_normalize: false``, the official asymmetry) or L2-normalised
and scaled by s = sqrt(D) (``train_normalize: true``).

Enhancement (``docs/method.md`` §7): x = normalize(e) * s;
x_t = sqrt(acp_t*) x + sqrt(1-acp_t*) eps; out = clamp(f(x_t, t*), +-3 s).
With ``sample_steps`` N > 1, N deterministic DDIM steps instead.

Regression baseline (``objective: regression``): f(y0, t_fix) is regressed onto x0 with the same
L1 loss; no noise at all, neither in training nor at test time.

Feature ensemble (``feature_ensemble: a``, 0 = off, the official setting): the output becomes
``enhanced + a * x`` with x the normalised input. The original's option of that name adds the raw
embedding ``e``; seedkit adds the normalised one so the mix does not depend on the backbone's raw
norm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seedkit.seed.network import RDMMLP
from seedkit.seed.schedule import NoiseSchedule


def build_network(cfg: Mapping[str, Any]) -> RDMMLP:
    """The RDM-MLP of a resolved config (see :func:`seedkit.seed.config.resolve_dims`)."""
    return RDMMLP(in_channels=cfg["embed_dim"], time_embed_dim=cfg["time_embed_dim"],
                  model_channels=cfg["model_channels"],
                  bottleneck_channels=cfg["bottleneck_channels"],
                  out_channels=cfg["embed_dim"], num_res_blocks=cfg["num_res_blocks"],
                  dropout=cfg["dropout"])


class SeedDiffusion(nn.Module):
    """The network plus the process around it; ``forward`` is the training loss."""

    def __init__(self, cfg: Mapping[str, Any], net: Optional[RDMMLP] = None):
        super().__init__()
        self.cfg = dict(cfg)
        self.net = net if net is not None else build_network(cfg)
        self.schedule = NoiseSchedule(cfg["train_timesteps"], cfg["beta_start"],
                                      cfg["beta_end"], cfg["beta_schedule"])
        self.embed_dim = int(cfg["embed_dim"])
        self.scale = float(cfg["clamp_scale"] or math.sqrt(self.embed_dim))
        self.clip_range = float(cfg["clip_sample_mult"]) * self.scale
        self.objective = cfg["objective"]

    # ----- training -----
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalise each row and scale it to norm ``s`` (= sqrt(D) by default)."""
        return F.normalize(x, dim=-1).mul_(self.scale)  # in place on normalize's own output

    def draw_t_eps(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """t ~ U{0..T-1} and eps ~ N(0, I) for ``n`` pairs, on the CPU from ``generator``."""
        t = torch.randint(0, self.schedule.num_train_timesteps, (n,), generator=generator)
        eps = torch.randn(n, self.embed_dim, generator=generator)
        return t, eps

    def forward(self, x_start: torch.Tensor, x_target: torch.Tensor, t: torch.Tensor,
                eps: torch.Tensor) -> torch.Tensor:
        """Mean L1 loss of the configured objective on one batch of pairs."""
        if self.cfg["train_normalize"]:
            x_start = self.normalize(x_start)
            x_target = self.normalize(x_target)
        if self.objective == "regression":
            pred = self.net(x_start, int(self.cfg["regression_t"]))
        else:
            x_t = self.schedule.add_noise(x_start, eps, t)
            pred = self.net(x_t, t)
        return F.l1_loss(pred, x_target)

    # ----- enhancement -----
    def ddim_schedule(self, steps: int, t_star: int, start: str) -> list[int]:
        if start == "full":
            return self.schedule.ddim_timesteps(steps)
        ts = np.linspace(t_star, 0, steps).round().astype(np.int64)
        return [int(t) for t in ts]

    @torch.no_grad()
    def enhance(self, e: torch.Tensor, eps: Optional[torch.Tensor] = None,
                t_star: Optional[int] = None, steps: Optional[int] = None,
                ddim_start: Optional[str] = None) -> torch.Tensor:
        """Enhance ``[B, D]`` embeddings; ``eps`` (``[B, D]``) is needed unless regression."""
        t_star = int(self.cfg["t_star"] if t_star is None else t_star)
        steps = int(self.cfg["sample_steps"] if steps is None else steps)
        ddim_start = ddim_start or self.cfg["ddim_start"]
        # in place where the tensor is this call's own: each pass over [B, D] costs as much as a
        # tenth of the network at D = 256 (benchmarks/bench_seed.py)
        x = self.normalize(e) if self.cfg["sample_normalize"] else e
        out = self._enhance(x, eps, t_star, steps, ddim_start)
        mix = float(self.cfg.get("feature_ensemble", 0.0) or 0.0)
        return out.add_(x, alpha=mix) if mix else out

    def _enhance(self, x: torch.Tensor, eps: Optional[torch.Tensor], t_star: int, steps: int,
                 ddim_start: str) -> torch.Tensor:
        if self.objective == "regression":
            return self.net(x, int(self.cfg["regression_t"])).clamp_(-self.clip_range,
                                                                       self.clip_range)
        if eps is None:
            raise ValueError("diffusion enhancement needs eps")
        eps = eps.to(x)
        if steps == 1:
            x_t = self.schedule.add_noise(x, eps, torch.tensor(t_star))
            return self.net(x_t, t_star).clamp_(-self.clip_range, self.clip_range)
        ts = self.ddim_schedule(steps, t_star, ddim_start)
        cur = self.schedule.add_noise(x, eps, torch.tensor(ts[0]))
        for i, t in enumerate(ts):
            prev_t = ts[i + 1] if i + 1 < len(ts) else -1
            if ddim_start == "full":
                prev_t = t - self.schedule.num_train_timesteps // steps
            out = self.net(cur, t)
            cur, _ = self.schedule.ddim_step(out, t, cur, prev_t, self.clip_range)
        return cur
