"""GE2E d-vector speaker encoder (the network whose weights ship in resemblyzer 0.1.4).

Front end: librosa-style power mel (Slaney scale and norm, 40 bands 0-8000 Hz, periodic Hann 400,
hop 160, zero-padded centre), no log. Network: 3-layer LSTM 40 -> 256 on 160-frame partials, the
final hidden state of the top layer -> Linear 256 -> ReLU -> L2 normalisation (no epsilon).

An utterance is embedded as resemblyzer's ``embed_utterance`` does (checked against
``tests/data/reference/ge2e.json``): partial starts every 77 frames, the last one dropped
when it covers < 75 % real audio (unless it is the only one), the waveform zero-padded to
the end of the last partial, the mel computed once over the padded waveform and sliced,
partial embeddings averaged and re-normalised. ``forward(wav [B, N])`` embeds each row as one
utterance.

State-dict keys are ``lstm.*`` and ``linear.*`` as in ``pretrained.pt``'s ``model_state``; the two
GE2E-loss scalars ``similarity_weight``/``similarity_bias`` there are not used and are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from seedkit.models.frontends import SlaneyMelSpectrogram
from seedkit.models.registry import BackboneNet, register_backbone


@dataclass(frozen=True)
class PartialPlan:
    """Where the partials of an ``num_samples`` utterance lie (in mel frames) and the padding."""

    num_samples: int
    starts: tuple[int, ...]
    candidate_starts: tuple[int, ...]
    last_coverage: float
    padded_length: int  # >= num_samples; zeros appended up to here


def plan_partials(num_samples: int, sample_rate: int = 16000, hop_length: int = 160,
                  partial_frames: int = 160, rate: float = 1.3, min_coverage: float = 0.75
                  ) -> PartialPlan:
    """resemblyzer's partial planning for an utterance of ``num_samples`` samples."""
    if num_samples < 1:
        raise ValueError("cannot plan partials for an empty waveform")
    step = int(round(sample_rate / rate / hop_length))
    n_frames = int(math.ceil((num_samples + 1) / hop_length))
    starts = list(range(0, max(1, n_frames - partial_frames + step + 1), step))
    candidates = tuple(starts)
    coverage = (num_samples - hop_length * starts[-1]) / (hop_length * partial_frames)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    end = hop_length * (starts[-1] + partial_frames)
    return PartialPlan(num_samples, tuple(starts), candidates, coverage, max(num_samples, end))


@register_backbone("GE2E", "ge2e", "resemblyzer")
class GE2E(BackboneNet):
    """GE2E LSTM d-vector; ``forward(wav [B, N]) -> [B, 256]`` unit vectors."""

    ignored_checkpoint_keys = ("similarity_weight", "similarity_bias")

    def __init__(self, n_mels: int = 40, hidden_size: int = 256, num_layers: int = 3,
                 embed_dim: int = 256, partial_frames: int = 160, partials_per_second: float = 1.3,
                 min_coverage: float = 0.75, sample_rate: int = 16000, n_fft: int = 400,
                 hop_length: int = 160):
        super().__init__()
        self.sample_rate = sample_rate
        self.embed_dim = embed_dim
        self.hop_length = hop_length
        self.partial_frames = partial_frames
        self.rate = partials_per_second
        self.min_coverage = min_coverage
        self.mel = SlaneyMelSpectrogram(sample_rate, n_fft, hop_length, n_mels)
        self.lstm = nn.LSTM(n_mels, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, embed_dim)
        self.relu = nn.ReLU()

    def plan(self, num_samples: int) -> PartialPlan:
        return plan_partials(num_samples, self.sample_rate, self.hop_length, self.partial_frames,
                             self.rate, self.min_coverage)

    def embed_partials(self, mels: torch.Tensor) -> torch.Tensor:
        """[P, partial_frames, n_mels] mel windows -> [P, embed_dim] unit vectors."""
        _, (hidden, _) = self.lstm(mels)
        e = self.relu(self.linear(hidden[-1]))
        return e / torch.norm(e, dim=1, keepdim=True)

    def partial_embeddings(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, N] -> [B, P, embed_dim]: the unit partial embeddings of each row."""
        b, n = wav.shape
        plan = self.plan(n)
        if plan.padded_length > n:
            wav = torch.nn.functional.pad(wav, (0, plan.padded_length - n))
        mel = self.mel(wav.float())  # [B, T, n_mels]
        idx = torch.tensor(plan.starts, device=wav.device)[:, None] + torch.arange(
            self.partial_frames, device=wav.device)[None, :]
        windows = mel[:, idx]  # [B, P, partial_frames, n_mels]
        p = len(plan.starts)
        e = self.embed_partials(windows.reshape(b * p, self.partial_frames, -1))
        return e.view(b, p, -1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        raw = self.partial_embeddings(wav).mean(dim=1)
        return raw / torch.norm(raw, dim=1, keepdim=True)

    def num_units(self, num_samples: int) -> int:
        """Partials (LSTM sequences) an utterance of ``num_samples`` costs."""
        return len(self.plan(num_samples).starts)

    def embed_many(self, wavs: list[torch.Tensor]) -> torch.Tensor:
        """Utterances of any lengths (1-D each) -> [U, embed_dim]: every utterance as
        :meth:`embed_utterance`, with the partials of all of them in one LSTM batch."""
        windows, counts = [], []
        for wav in wavs:
            n = wav.shape[-1]
            plan = self.plan(n)
            x = wav.reshape(1, -1).float()
            if plan.padded_length > n:
                x = torch.nn.functional.pad(x, (0, plan.padded_length - n))
            mel = self.mel(x)[0]  # [T, n_mels]
            idx = torch.tensor(plan.starts, device=x.device)[:, None] + torch.arange(
                self.partial_frames, device=x.device)[None, :]
            windows.append(mel[idx])
            counts.append(len(plan.starts))
        parts = self.embed_partials(torch.cat(windows))
        raw = torch.stack([p.mean(dim=0) for p in torch.split(parts, counts)])
        return raw / torch.norm(raw, dim=1, keepdim=True)

    def embed_utterance(self, wav: torch.Tensor, return_partials: bool = False):
        """resemblyzer's ``embed_utterance`` on a 1-D waveform: [D] (and [P, D] partials)."""
        partials = self.partial_embeddings(wav.reshape(1, -1))[0]
        raw = partials.mean(dim=0)
        emb = raw / torch.norm(raw)
        return (emb, partials) if return_partials else emb


__all__ = ["GE2E", "PartialPlan", "plan_partials"]
