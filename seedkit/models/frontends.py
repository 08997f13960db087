"""Acoustic front ends shared by the backbones.

* :class:`PreEmphasis` -- y[n] = x[n] - coef * x[n-1] after a one-sample *reflect* left pad (so
  y[0] = x[0] - coef * x[1]), as a conv1d whose kernel is the buffer ``flipped_filter``
  ``[[[-coef, 1]]]`` (the name official checkpoints use).
* :class:`SlaneyMelSpectrogram` -- librosa-style power mel spectrogram (Slaney scale and area
  normalisation, zero-padded centred STFT, periodic Hann), the GE2E / resemblyzer front end. Its
  window and filterbank are non-persistent buffers, so they never appear in a state dict.

The ResNet and ECAPA front ends are plain ``torchaudio.transforms`` modules placed after
:class:`PreEmphasis` in an ``nn.Sequential``; their buffers then carry exactly the official key
names (``torchfb.1.spectrogram.window``, ``torchmfcc.1.dct_mat``, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn


class PreEmphasis(nn.Module):
    """First-order pre-emphasis ``x[n] - coef * x[n-1]`` with reflect padding on the left."""

    def __init__(self, coef: float = 0.97):
        super().__init__()
        self.coef = coef
        self.register_buffer(
            "flipped_filter", torch.tensor([-coef, 1.0], dtype=torch.float32).view(1, 1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: [B, N] waveform -> [B, N]."""
        x = x.unsqueeze(1)
        x = F.pad(x, (1, 0), mode="reflect")
        return F.conv1d(x, self.flipped_filter).squeeze(1)


class SlaneyMelSpectrogram(nn.Module):
    """Power mel spectrogram matching ``librosa.feature.melspectrogram`` (librosa >= 0.10).

    Output layout is [B, T, n_mels] (frames first, as GE2E consumes it) with
    T = 1 + N // hop_length.
    """

    def __init__(self, sample_rate: int = 16000, n_fft: int = 400, hop_length: int = 160,
                 n_mels: int = 40, f_min: float = 0.0, f_max: float | None = None):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        f_max = float(sample_rate) / 2 if f_max is None else float(f_max)
        fb = torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, float(f_min), f_max, n_mels, sample_rate, norm="slaney",
            mel_scale="slaney")
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fb", fb, persistent=False)  # [n_freqs, n_mels]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: [B, N] -> [B, T, n_mels]."""
        spec = torch.stft(x, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
                          window=self.window, center=True, pad_mode="constant",
                          normalized=False, onesided=True, return_complex=True)
        power = spec.abs().pow(2.0)  # [B, F, T], as librosa's np.abs(S) ** 2
        return torch.matmul(power.transpose(1, 2), self.fb)


__all__ = ["PreEmphasis", "SlaneyMelSpectrogram"]
