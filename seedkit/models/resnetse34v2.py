"""ResNetSE34V2 with attentive statistics pooling (the SEED / voxceleb_trainer ``ResNetSE34V2``).

Waveform [B, N] at 16 kHz -> pre-emphasis (0.97, reflect pad) -> MelSpectrogram (hamming, n_fft
512, win 400, hop 160, 64 mels, HTK scale, no norm, reflect-padded centre) -> log(x + 1e-6) ->
InstanceNorm1d over time -> Conv2d(1->32) -> ReLU -> BN -> 4 stages of SE basic blocks [3, 4, 6, 3]
with channels [32, 64, 128, 256] (stride 2 from stage 2) -> attention over time -> ASP
(mean, sqrt(clamp(E[x^2] - mean^2, 1e-4))) -> fc 4096 -> 512. The output is the raw fc output.

Module and buffer names equal the official state-dict keys (``conv1.weight``,
``layer1.0.se.fc.0.weight``, ``torchfb.1.mel_scale.fb``, ``attention.3.weight``, ``fc.bias``, ...).
All sizes are constructor arguments, so tiny random-weight variants can be built for tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchaudio
from torch import nn

from seedkit.models.frontends import PreEmphasis
from seedkit.models.registry import BackboneNet, register_backbone


class SELayer(nn.Module):
    """Squeeze-excitation over channels of a 2-D feature map (keys ``fc.0``, ``fc.2``)."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction),
            nn.ReLU(inplace=True),
            nn.Linear(channels // reduction, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
        return x * y


class SEBasicBlock(nn.Module):
    """conv3x3 -> ReLU -> BN -> conv3x3 -> BN -> SE -> + shortcut -> ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, reduction: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.se = SELayer(planes, reduction)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.bn1(self.relu(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + residual)


@register_backbone("ResNetSE34V2", "resnetse34v2")
class ResNetSE34V2(BackboneNet):
    """SE-ResNet34 (half width) + ASP, 512-d; ``forward(wav [B, N]) -> [B, embed_dim]``."""

    derived_buffers = ("torchfb.0.flipped_filter", "torchfb.1.spectrogram.window",
                       "torchfb.1.mel_scale.fb")
    min_samples = 512

    def __init__(self, embed_dim: int = 512, n_mels: int = 64,
                 channels: Sequence[int] = (32, 64, 128, 256),
                 layers: Sequence[int] = (3, 4, 6, 3), encoder_type: str = "ASP",
                 log_input: bool = True, se_reduction: int = 8, attention_channels: int = 128,
                 asp_eps: float = 1e-4, sample_rate: int = 16000, n_fft: int = 512,
                 win_length: int = 400, hop_length: int = 160, preemphasis: float = 0.97):
        super().__init__()
        if len(channels) != 4 or len(layers) != 4:
            raise ValueError("channels and layers must each have 4 entries")
        if encoder_type not in ("ASP", "SAP"):
            raise ValueError(f"encoder_type must be 'ASP' or 'SAP', got {encoder_type!r}")
        if n_mels % 8:
            raise ValueError(f"n_mels must be a multiple of 8, got {n_mels}")
        self.sample_rate = sample_rate
        self.embed_dim = embed_dim
        self.encoder_type = encoder_type
        self.log_input = log_input
        self.asp_eps = asp_eps
        self.n_mels = n_mels
        self._inplanes = channels[0]
        self._reduction = se_reduction

        self.conv1 = nn.Conv2d(1, channels[0], kernel_size=3, stride=1, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.layer1 = self._make_layer(channels[0], layers[0], 1)
        self.layer2 = self._make_layer(channels[1], layers[1], 2)
        self.layer3 = self._make_layer(channels[2], layers[2], 2)
        self.layer4 = self._make_layer(channels[3], layers[3], 2)
        self.instancenorm = nn.InstanceNorm1d(n_mels)
        self.torchfb = nn.Sequential(
            PreEmphasis(preemphasis),
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate, n_fft=n_fft, win_length=win_length,
                hop_length=hop_length, window_fn=torch.hamming_window, n_mels=n_mels),
        )
        pooled = channels[3] * (n_mels // 8)
        self.attention = nn.Sequential(
            nn.Conv1d(pooled, attention_channels, kernel_size=1),
            nn.ReLU(),
            nn.BatchNorm1d(attention_channels),
            nn.Conv1d(attention_channels, pooled, kernel_size=1),
            nn.Softmax(dim=2),
        )
        self.fc = nn.Linear(pooled * 2 if encoder_type == "ASP" else pooled, embed_dim)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self._inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self._inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        mods = [SEBasicBlock(self._inplanes, planes, stride, downsample, self._reduction)]
        self._inplanes = planes
        mods += [SEBasicBlock(planes, planes, 1, None, self._reduction) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel features [B, n_mels, T] (no gradient, float32)."""
        with torch.no_grad():
            x = self.torchfb(wav.float()) + 1e-6
            if self.log_input:
                x = x.log()
            return self.instancenorm(x)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.features(wav).unsqueeze(1)
        x = self.bn1(self.relu(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = x.reshape(x.shape[0], -1, x.shape[-1])
        w = self.attention(x)
        mu = torch.sum(x * w, dim=2)
        if self.encoder_type == "SAP":
            return self.fc(mu)
        sg = torch.sqrt((torch.sum((x ** 2) * w, dim=2) - mu ** 2).clamp(min=self.asp_eps))
        return self.fc(torch.cat((mu, sg), dim=1))


__all__ = ["ResNetSE34V2"]
