"""The SEED authors' ECAPA-TDNN variant (``ECAPA_TDNN``; not SpeechBrain's, not the DRL repo's).

Waveform [B, N] at 16 kHz -> pre-emphasis -> torchaudio MFCC (80 coefficients from 80 log mels,
hamming n_fft 512 / win 400 / hop 160, 20-7600 Hz, orthonormal DCT-II) -> + 1e-6 -> CMN (subtract
the time mean) -> Conv1d(80 -> C, k5) -> ReLU -> BN -> three Bottle2neck blocks (scale 8,
dilations 2, 3, 4) with summed inputs (x2 = L2(x + x1), x3 = L3(x + x1 + x2)) -> Conv1d(3C -> 1536)
-> ReLU -> attention on [x, mean_t, std_t] -> pooling on (weighted RMS "l2", weighted std) -> bn5 ->
fc6 (-> 256). ``bn6`` exists (it is in the official state dict) but is never applied.

Module and buffer names equal the official state-dict keys (``layer1.convs.0.weight``,
``layer1.se.se.1.weight``, ``torchmfcc.1.dct_mat``, ``bn6.running_var``, ...).
"""

from __future__ import annotations

import math

import torch
import torchaudio
from torch import nn

from seedkit.models.frontends import PreEmphasis
from seedkit.models.registry import BackboneNet, register_backbone


class SEModule(nn.Module):
    """Channel SE: avgpool -> conv1x1 -> ReLU -> BN -> conv1x1 -> sigmoid, times the input."""

    def __init__(self, channels: int, bottleneck: int = 128):
        super().__init__()
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool1d(1),
            nn.Conv1d(channels, bottleneck, kernel_size=1, padding=0),
            nn.ReLU(),
            nn.BatchNorm1d(bottleneck),
            nn.Conv1d(bottleneck, channels, kernel_size=1, padding=0),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.se(x)


class Bottle2neck(nn.Module):
    """Res2Net block: 1x1 -> hierarchical dilated convs over ``scale`` splits -> 1x1 -> SE -> +x."""

    def __init__(self, inplanes: int, planes: int, kernel_size: int, dilation: int,
                 scale: int = 8, se_bottleneck: int = 128):
        super().__init__()
        width = int(math.floor(planes / scale))
        self.conv1 = nn.Conv1d(inplanes, width * scale, kernel_size=1)
        self.bn1 = nn.BatchNorm1d(width * scale)
        self.nums = scale - 1
        pad = math.floor(kernel_size / 2) * dilation
        self.convs = nn.ModuleList(
            nn.Conv1d(width, width, kernel_size=kernel_size, dilation=dilation, padding=pad)
            for _ in range(self.nums))
        self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(self.nums))
        self.conv3 = nn.Conv1d(width * scale, planes, kernel_size=1)
        self.bn3 = nn.BatchNorm1d(planes)
        self.relu = nn.ReLU()
        self.width = width
        self.se = SEModule(planes, se_bottleneck)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn1(self.relu(self.conv1(x)))
        spx = torch.split(out, self.width, 1)
        pieces = []
        sp = spx[0]
        for i in range(self.nums):
            sp = spx[i] if i == 0 else sp + spx[i]
            sp = self.bns[i](self.relu(self.convs[i](sp)))
            pieces.append(sp)
        pieces.append(spx[self.nums])
        out = self.bn3(self.relu(self.conv3(torch.cat(pieces, 1))))
        return self.se(out) + x


@register_backbone("ECAPA_TDNN", "ecapa_tdnn", "ECAPA-TDNN")
class ECAPA_TDNN(BackboneNet):  # noqa: N801  (the official class name)
    """SEED ECAPA-TDNN (C=1024, 80 MFCC + CMN, 256-d); ``forward(wav [B, N]) -> [B, embed_dim]``."""

    derived_buffers = ("torchmfcc.0.flipped_filter", "torchmfcc.1.dct_mat",
                       "torchmfcc.1.MelSpectrogram.spectrogram.window",
                       "torchmfcc.1.MelSpectrogram.mel_scale.fb")
    min_samples = 512

    def __init__(self, C: int = 1024, embed_dim: int = 256, n_mels: int = 80,  # noqa: N803
                 scale: int = 8, pool_channels: int = 1536, attention_channels: int = 128,
                 se_bottleneck: int = 128, stat_eps: float = 1e-4, sample_rate: int = 16000,
                 n_fft: int = 512, win_length: int = 400, hop_length: int = 160,
                 f_min: float = 20.0, f_max: float = 7600.0, preemphasis: float = 0.97):
        super().__init__()
        if C % scale:
            raise ValueError(f"C ({C}) must be a multiple of scale ({scale})")
        self.sample_rate = sample_rate
        self.embed_dim = embed_dim
        self.stat_eps = stat_eps
        self.conv1 = nn.Conv1d(n_mels, C, kernel_size=5, stride=1, padding=2)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(C)
        self.layer1 = Bottle2neck(C, C, 3, 2, scale, se_bottleneck)
        self.layer2 = Bottle2neck(C, C, 3, 3, scale, se_bottleneck)
        self.layer3 = Bottle2neck(C, C, 3, 4, scale, se_bottleneck)
        self.layer4 = nn.Conv1d(3 * C, pool_channels, kernel_size=1)
        self.torchmfcc = nn.Sequential(
            PreEmphasis(preemphasis),
            torchaudio.transforms.MFCC(
                sample_rate=sample_rate, n_mfcc=n_mels, log_mels=True, dct_type=2, norm="ortho",
                melkwargs={"n_mels": n_mels, "n_fft": n_fft, "win_length": win_length,
                           "hop_length": hop_length, "f_min": f_min, "f_max": f_max,
                           "window_fn": torch.hamming_window}),
        )
        self.attention = nn.Sequential(
            nn.Conv1d(3 * pool_channels, attention_channels, kernel_size=1),
            nn.ReLU(),
            nn.BatchNorm1d(attention_channels),
            nn.Conv1d(attention_channels, pool_channels, kernel_size=1),
            nn.Softmax(dim=2),
        )
        self.bn5 = nn.BatchNorm1d(2 * pool_channels)
        self.fc6 = nn.Linear(2 * pool_channels, embed_dim)
        self.bn6 = nn.BatchNorm1d(embed_dim)  # in the official state dict; never applied

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """MFCC + 1e-6 with the time mean removed: [B, n_mfcc, T] (no gradient, float32)."""
        with torch.no_grad():
            x = self.torchmfcc(wav.float()) + 1e-6
            return x - torch.mean(x, dim=-1, keepdim=True)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.relu(self.conv1(self.features(wav))))
        x1 = self.layer1(x)
        x2 = self.layer2(x + x1)
        x3 = self.layer3(x + x1 + x2)
        x = self.relu(self.layer4(torch.cat((x1, x2, x3), dim=1)))
        t = x.shape[-1]
        mean = torch.mean(x, dim=2, keepdim=True)
        std = torch.sqrt(torch.var(x, dim=2, keepdim=True).clamp(min=self.stat_eps))
        global_x = torch.cat((x, mean.repeat(1, 1, t), std.repeat(1, 1, t)), dim=1)
        w = self.attention(global_x)
        ex2 = torch.sum((x ** 2) * w, dim=2)
        mu = torch.sum(x * w, dim=2)
        l2 = torch.sqrt(ex2.clamp(min=self.stat_eps))
        sg = torch.sqrt((ex2 - mu ** 2).clamp(min=self.stat_eps))
        x = self.bn5(torch.cat((l2, sg), 1))
        return self.fc6(x)


__all__ = ["ECAPA_TDNN"]
