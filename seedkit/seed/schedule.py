"""The DDPM noise schedule of SEED and the two scheduler operations it uses.

Facts (``docs/method.md`` §2, diffusers ``DDIMScheduler`` defaults of the original):
  betas = linspace(sqrt(1e-4), sqrt(0.02), T=1000, float32) ** 2     ("scaled_linear")
  alphas_cumprod = cumprod(1 - betas) in float32
  add_noise(x, eps, t) = sqrt(acp[t]) * x + sqrt(1 - acp[t]) * eps
  DDIM step (eta 0, x0-prediction, "leading" spacing, set_alpha_to_one): x0 is clamped to
  +-clip_range; eps is computed from the *unclipped* model output (as diffusers does).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch


class NoiseSchedule:
    """Betas and cumulative alphas (float32) plus forward noising and the DDIM update."""

    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 1e-4,
                 beta_end: float = 0.02, beta_schedule: str = "scaled_linear"):
        if beta_schedule == "scaled_linear":
            betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_train_timesteps,
                                   dtype=torch.float32) ** 2
        elif beta_schedule == "linear":
            betas = torch.linspace(beta_start, beta_end, num_train_timesteps,
                                   dtype=torch.float32)
        else:
            raise ValueError(f"unknown beta_schedule {beta_schedule!r}; use scaled_linear|linear")
        self.num_train_timesteps = num_train_timesteps
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.final_alpha_cumprod = torch.tensor(1.0)  # set_alpha_to_one=True

    def _acp(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        acp = self.alphas_cumprod.to(device=like.device, dtype=like.dtype)
        return acp[t.to(like.device).long()]

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``sqrt(acp[t]) x0 + sqrt(1 - acp[t]) noise``; ``t`` is ``[B]`` or 0-d."""
        t = torch.as_tensor(t)
        if t.dim() == 0 and not (x0.requires_grad or noise.requires_grad):
            # one t (enhancement): two passes over [B, D], no temporaries
            a = float(self.alphas_cumprod[int(t)])
            return (x0 * a ** 0.5).add_(noise, alpha=(1 - a) ** 0.5)
        acp = self._acp(t.reshape(-1), x0)
        sqrt_a = (acp ** 0.5).flatten()
        sqrt_1ma = ((1 - acp) ** 0.5).flatten()
        while sqrt_a.dim() < x0.dim():
            sqrt_a = sqrt_a.unsqueeze(-1)
            sqrt_1ma = sqrt_1ma.unsqueeze(-1)
        return sqrt_a * x0 + sqrt_1ma * noise

    def ddim_timesteps(self, num_inference_steps: int) -> list[int]:
        """diffusers "leading" spacing: ``(arange(N) * (T // N))`` reversed, e.g. 980..0 for 50."""
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise ValueError(f"number of steps must be in 1..{self.num_train_timesteps}")
        ratio = self.num_train_timesteps // num_inference_steps
        ts = (np.arange(0, num_inference_steps) * ratio).round()[::-1].astype(np.int64)
        return [int(t) for t in ts]

    def ddim_step(self, model_output: torch.Tensor, t: int, sample: torch.Tensor,
                  prev_t: int, clip_range: Optional[float]) -> tuple[torch.Tensor, torch.Tensor]:
        """One deterministic DDIM step (eta 0) for an x0-predicting model.

        Returns ``(prev_sample, pred_original_sample)``; the latter is ``model_output`` clamped to
        ``+-clip_range`` (no clamp when ``None``).
        """
        acp = self.alphas_cumprod.to(device=sample.device, dtype=sample.dtype)
        a_t = acp[t]
        a_prev = acp[prev_t] if prev_t >= 0 else self.final_alpha_cumprod.to(acp)
        beta_t = 1 - a_t
        pred_x0 = model_output
        pred_eps = (sample - a_t ** 0.5 * pred_x0) / beta_t ** 0.5
        if clip_range is not None:
            pred_x0 = pred_x0.clamp(-clip_range, clip_range)
        prev = a_prev ** 0.5 * pred_x0 + (1 - a_prev) ** 0.5 * pred_eps
        return prev, pred_x0
