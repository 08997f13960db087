"""SpeechBrain's ECAPA-TDNN (``SpeechBrainECAPA``): ``speechbrain/spkrec-ecapa-voxceleb``'s model.

Reproduces SpeechBrain 1.x's verification path (``EncoderClassifier.encode_batch`` without
``normalize``) from a waveform in [-1, 1]:

* ``Fbank`` (``lobes/features.py``): ``torch.stft`` with n_fft 400, win 400 (25 ms), hop 160
  (10 ms), a periodic hamming window, ``center=True`` with zero padding; power spectrum
  (re^2 + im^2); SpeechBrain's own triangular mel filters (HTK mel scale, 0-8000 Hz, each filter
  as wide on both sides as its lower band); ``10 * log10(max(x, 1e-10))`` floored at the
  utterance's maximum minus 80 dB (per item of the batch);
* ``InputNormalization(norm_type="sentence", std_norm=False)``: the time mean of each utterance
  subtracted (no variance normalisation);
* ``ECAPA_TDNN`` (``lobes/models/ECAPA_TDNN.py``, ``nnet/CNN.py``): every Conv1d is "same"
  padded with **reflect** padding; TDNN blocks are conv -> ReLU -> BatchNorm; three SE-Res2Net
  blocks; MFA (a TDNN block over blocks 1-3 concatenated); attentive statistics pooling with
  global context (tanh attention, masked softmax, weighted mean / std with eps 1e-12); ``asp_bn``;
  ``fc`` (a k=1 Conv1d 2*C_last -> lin_neurons).

Not applied: ``mean_var_norm_emb`` (the hyperparams' global embedding normalisation): SpeechBrain's
``encode_batch`` uses it only with ``normalize=True``, and its verification
(``SpeakerRecognition.verify_batch``) does not; the embedding is the raw ``fc`` output.

Module names equal SpeechBrain's state-dict keys (``blocks.0.conv.conv.weight``,
``blocks.1.res2net_block.blocks.0.norm.norm.running_mean``, ``asp.tdnn.conv.conv.weight``,
``asp_bn.norm.weight``, ``fc.conv.bias``), so ``embedding_model.ckpt`` loads as it is. The STFT
window and mel matrix are non-persistent buffers (SpeechBrain keeps them outside the state dict).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seedkit.models.registry import BackboneNet, register_backbone


class _Conv1d(nn.Module):
    """SpeechBrain's ``nnet.CNN.Conv1d`` with ``padding="same"``, ``padding_mode="reflect"``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 dilation: int = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation,
                              groups=groups)
        self.pad = dilation * (kernel_size - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad, self.pad), mode="reflect")
        return self.conv(x)


class _BatchNorm1d(nn.Module):
    """SpeechBrain's ``nnet.normalization.BatchNorm1d`` (keys ``norm.*``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels, eps=1e-5, momentum=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class TDNNBlock(nn.Module):
    """Conv1d (same, reflect) -> ReLU -> BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 groups: int = 1):
        super().__init__()
        self.conv = _Conv1d(in_channels, out_channels, kernel_size, dilation, groups)
        self.activation = nn.ReLU()
        self.norm = _BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.activation(self.conv(x)))


class Res2NetBlock(nn.Module):
    """``scale`` channel chunks; chunk i > 0 goes through a TDNN block with chunk i-1's output."""

    def __init__(self, channels: int, scale: int, kernel_size: int, dilation: int):
        super().__init__()
        width = channels // scale
        self.blocks = nn.ModuleList(TDNNBlock(width, width, kernel_size, dilation)
                                    for _ in range(scale - 1))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = []
        y = x
        for i, xi in enumerate(torch.chunk(x, self.scale, dim=1)):
            if i == 0:
                y = xi
            elif i == 1:
                y = self.blocks[0](xi)
            else:
                y = self.blocks[i - 1](xi + y)
            ys.append(y)
        return torch.cat(ys, dim=1)


class SEBlock(nn.Module):
    """Squeeze-excitation: time mean -> conv1 -> ReLU -> conv2 -> sigmoid, times the input."""

    def __init__(self, channels: int, se_channels: int):
        super().__init__()
        self.conv1 = _Conv1d(channels, se_channels, 1)
        self.relu = nn.ReLU()
        self.conv2 = _Conv1d(se_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=2, keepdim=True)
        s = torch.sigmoid(self.conv2(self.relu(self.conv1(s))))
        return s * x


class SERes2NetBlock(nn.Module):
    """TDNN (k1) -> Res2Net -> TDNN (k1) -> SE, plus the input (through ``shortcut`` if resized)."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, se_channels: int,
                 kernel_size: int, dilation: int):
        super().__init__()
        self.tdnn1 = TDNNBlock(in_channels, out_channels, 1, 1)
        self.res2net_block = Res2NetBlock(out_channels, scale, kernel_size, dilation)
        self.tdnn2 = TDNNBlock(out_channels, out_channels, 1, 1)
        self.se_block = SEBlock(out_channels, se_channels)
        self.shortcut = (_Conv1d(in_channels, out_channels, 1) if in_channels != out_channels
                         else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.shortcut is None else self.shortcut(x)
        x = self.se_block(self.tdnn2(self.res2net_block(self.tdnn1(x))))
        return x + residual


class AttentiveStatisticsPooling(nn.Module):
    """Attention over time on [x, mean, std] (global context); weighted mean and std."""

    eps = 1e-12

    def __init__(self, channels: int, attention_channels: int = 128, global_context: bool = True):
        super().__init__()
        self.global_context = global_context
        self.tdnn = TDNNBlock(channels * (3 if global_context else 1), attention_channels, 1, 1)
        self.tanh = nn.Tanh()
        self.conv = _Conv1d(attention_channels, channels, 1)

    def _stats(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (w * x).sum(2)
        std = torch.sqrt((w * (x - mean.unsqueeze(2)).pow(2)).sum(2).clamp(self.eps))
        return mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, 2C]."""
        t = x.shape[-1]
        if self.global_context:
            uniform = torch.full((x.shape[0], 1, t), 1.0 / t, dtype=x.dtype, device=x.device)
            mean, std = self._stats(x, uniform)
            attn = torch.cat([x, mean.unsqueeze(2).expand(-1, -1, t),
                              std.unsqueeze(2).expand(-1, -1, t)], dim=1)
        else:
            attn = x
        attn = F.softmax(self.conv(self.tanh(self.tdnn(attn))), dim=2)
        mean, std = self._stats(x, attn)
        return torch.cat((mean, std), dim=1)


def speechbrain_mel_matrix(n_mels: int, n_fft: int, sample_rate: int, f_min: float,
                           f_max: float) -> torch.Tensor:
    """SpeechBrain's triangular mel filterbank ``[n_fft // 2 + 1, n_mels]`` (float32).

    Centres equally spaced on the HTK mel scale; filter m rises from ``fc - band`` to ``fc`` and
    falls to ``fc + band`` where ``band`` is the distance to the previous centre.
    """

    def to_mel(hz: float) -> float:
        return 2595 * math.log10(1 + hz / 700)

    mel = torch.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    band = (hz[1:] - hz[:-1])[:-1]
    f_central = hz[1:-1]
    n_stft = n_fft // 2 + 1
    all_freqs = torch.linspace(0, sample_rate // 2, n_stft).repeat(n_mels, 1)
    fc = f_central.repeat(n_stft, 1).transpose(0, 1)
    bw = band.repeat(n_stft, 1).transpose(0, 1)
    slope = (all_freqs - fc) / bw
    return torch.max(torch.zeros(1), torch.min(slope + 1.0, -slope + 1.0)).transpose(0, 1)


@register_backbone("SpeechBrainECAPA", "speechbrain_ecapa", "SpeechBrain_ECAPA_TDNN")
class SpeechBrainECAPA(BackboneNet):
    """SpeechBrain ECAPA-TDNN with its Fbank + sentence mean norm: ``[B, N] -> [B, lin_neurons]``.

    Defaults are ``speechbrain/spkrec-ecapa-voxceleb``'s hyperparams (C 1024, 3072 MFA channels,
    192-d).
    """

    #: 5 frames: the widest reflect pad (dilation 4, kernel 3) must be shorter than the input
    min_samples = 640

    def __init__(self, n_mels: int = 80, lin_neurons: int = 192,
                 channels: Sequence[int] = (1024, 1024, 1024, 1024, 3072),
                 kernel_sizes: Sequence[int] = (5, 3, 3, 3, 1),
                 dilations: Sequence[int] = (1, 2, 3, 4, 1), attention_channels: int = 128,
                 res2net_scale: int = 8, se_channels: int = 128, global_context: bool = True,
                 sample_rate: int = 16000, n_fft: int = 400, win_length_ms: float = 25.0,
                 hop_length_ms: float = 10.0, f_min: float = 0.0, f_max: float | None = None,
                 top_db: float = 80.0):
        super().__init__()
        channels, kernel_sizes, dilations = list(channels), list(kernel_sizes), list(dilations)
        if not len(channels) == len(kernel_sizes) == len(dilations) >= 3:
            raise ValueError("channels, kernel_sizes and dilations need the same length (>= 3)")
        for c in channels[1:-1]:
            if c % res2net_scale:
                raise ValueError(f"channels {c} must be a multiple of res2net_scale "
                                 f"{res2net_scale}")
        self.sample_rate = sample_rate
        self.embed_dim = lin_neurons
        self.n_fft = n_fft
        self.win_length = int(round(sample_rate / 1000.0 * win_length_ms))
        self.hop_length = int(round(sample_rate / 1000.0 * hop_length_ms))
        self.top_db = top_db
        f_max = sample_rate // 2 if f_max is None else f_max
        self.register_buffer("window", torch.hamming_window(self.win_length), persistent=False)
        self.register_buffer("mel_matrix", speechbrain_mel_matrix(n_mels, n_fft, sample_rate,
                                                                  f_min, f_max),
                             persistent=False)
        self.blocks = nn.ModuleList([TDNNBlock(n_mels, channels[0], kernel_sizes[0],
                                               dilations[0])])
        for i in range(1, len(channels) - 1):
            self.blocks.append(SERes2NetBlock(channels[i - 1], channels[i], res2net_scale,
                                              se_channels, kernel_sizes[i], dilations[i]))
        self.mfa = TDNNBlock(channels[-2] * (len(channels) - 2), channels[-1], kernel_sizes[-1],
                             dilations[-1])
        self.asp = AttentiveStatisticsPooling(channels[-1], attention_channels, global_context)
        self.asp_bn = _BatchNorm1d(channels[-1] * 2)
        self.fc = _Conv1d(channels[-1] * 2, lin_neurons, 1)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Log-mel fbank with the sentence mean removed: [B, N] -> [B, T, n_mels] (float32)."""
        with torch.no_grad():
            spec = torch.stft(wav.float(), self.n_fft, self.hop_length, self.win_length,
                              self.window, center=True, pad_mode="constant", normalized=False,
                              onesided=True, return_complex=True)
            power = torch.view_as_real(spec).pow(2).sum(-1).transpose(1, 2)  # [B, T, F]
            fb = torch.matmul(power, self.mel_matrix)
            db = 10 * torch.log10(torch.clamp(fb, min=1e-10))
            floor = db.amax(dim=(-2, -1)) - self.top_db
            db = torch.max(db, floor.view(-1, 1, 1))
            return db - db.mean(dim=1, keepdim=True)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.features(wav).transpose(1, 2)  # [B, n_mels, T]
        xl = []
        for layer in self.blocks:
            x = layer(x)
            xl.append(x)
        x = self.mfa(torch.cat(xl[1:], dim=1))
        x = self.asp_bn(self.asp(x).unsqueeze(2))
        return self.fc(x).squeeze(2)


__all__ = ["SpeechBrainECAPA", "speechbrain_mel_matrix"]
