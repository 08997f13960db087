"""WeSpeaker's ResNet34 (``WeSpeakerResNet34``): ``voxceleb_resnet34`` / ``voxceleb_resnet34_LM``,
and pyannote's copy of it (``pyannote/wespeaker-voxceleb-resnet34-LM``).

Waveform [B, N] in [-1, 1] at 16 kHz -> x32768 -> Kaldi fbank (80 bins, 25 / 10 ms, hamming
window, dither 0, ``snip_edges`` true, ``use_energy`` false: WeSpeaker's ``compute_fbank`` and
its CLI, through :mod:`seedkit.models.kaldi_fbank`) -> per-utterance mean subtraction over time
-> ResNet34 (BasicBlocks [3, 4, 6, 3], ``m_channels`` 32, conv-BN-ReLU stem, strides 1/2/2/2 on
[B, 1, n_mels, T]) -> TSTP pooling (time mean and ``sqrt(var + 1e-7)``, unbiased, over
[B, C*F', T']) -> ``seg_1`` Linear 5120 -> 256 (the embedding).

Checkpoints (module names equal WeSpeaker's keys: ``conv1.weight``, ``layer1.0.bn1.running_mean``,
``layer2.0.shortcut.0.weight``, ``seg_1.weight``):

* WeSpeaker's ``avg_model.pt``: a bare state dict; ``projection.weight`` (the training-time
  margin head) is ignored;
* pyannote's ``pytorch_model.bin``: a Lightning dict, the state dict under ``state_dict`` with a
  ``resnet.`` prefix (stripped by :mod:`seedkit.models.checkpoint`), metadata holding pickled
  ``pyannote.audio`` classes that are never imported (read as inert stand-ins; only tensors are
  used). pyannote's pooling computes ``std`` without WeSpeaker's ``+ 1e-7`` (a difference far
  below 1e-4 relative for real activations).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seedkit.models.kaldi_fbank import WESPEAKER_FBANK, kaldi_fbank
from seedkit.models.registry import BackboneNet, register_backbone


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (1x1 conv + BN when the shape changes), ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


@register_backbone("WeSpeakerResNet34", "wespeaker_resnet34", "WeSpeaker_ResNet34")
class WeSpeakerResNet34(BackboneNet):
    """WeSpeaker ResNet34 with its Kaldi fbank + CMN front end: ``[B, N] -> [B, embed_dim]``.

    ``fbank`` overrides fields of :data:`seedkit.models.kaldi_fbank.WESPEAKER_FBANK` (e.g.
    ``{window_type: povey}``); ``cmn: false`` skips the mean subtraction.
    """

    ignored_checkpoint_keys = ("projection.weight", "projection.bias")
    #: 9 fbank frames: the three stride-2 stages leave >= 2 frames for the unbiased std
    min_samples = 1680

    def __init__(self, n_mels: int = 80, embed_dim: int = 256, m_channels: int = 32,
                 num_blocks: Sequence[int] = (3, 4, 6, 3), two_emb_layer: bool = False,
                 sample_rate: int = 16000, cmn: bool = True,
                 fbank: Optional[dict[str, Any]] = None):
        super().__init__()
        self.sample_rate = sample_rate
        self.embed_dim = embed_dim
        self.cmn = cmn
        self.fbank_opts = WESPEAKER_FBANK.with_overrides(
            {"num_mel_bins": n_mels, "sample_rate": sample_rate, **(fbank or {})})
        self.two_emb_layer = two_emb_layer
        self.in_planes = m_channels
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        blocks = list(num_blocks)
        if len(blocks) != 4:
            raise ValueError(f"num_blocks needs 4 stages, got {blocks}")
        self.layer1 = self._make_layer(m_channels, blocks[0], 1)
        self.layer2 = self._make_layer(m_channels * 2, blocks[1], 2)
        self.layer3 = self._make_layer(m_channels * 4, blocks[2], 2)
        self.layer4 = self._make_layer(m_channels * 8, blocks[3], 2)
        stats_dim = int(n_mels / 8) * m_channels * 8
        self.seg_1 = nn.Linear(stats_dim * 2, embed_dim)
        if two_emb_layer:
            self.seg_bn_1 = nn.BatchNorm1d(embed_dim, affine=False)
            self.seg_2 = nn.Linear(embed_dim, embed_dim)

    def _make_layer(self, planes: int, n: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Kaldi fbank (x32768 inside) with the utterance mean removed: [B, N] -> [B, T, n_mels]."""
        with torch.no_grad():
            feats = kaldi_fbank(wav.float(), self.fbank_opts)
            if self.cmn:
                feats = feats - feats.mean(dim=1, keepdim=True)
            return feats

    def embed_features(self, feats: torch.Tensor) -> torch.Tensor:
        """The network on fbank features: [B, T, n_mels] -> [B, embed_dim]."""
        x = feats.transpose(1, 2).unsqueeze(1)  # [B, 1, F, T]
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        mean = out.mean(dim=-1).flatten(start_dim=1)
        std = torch.sqrt(torch.var(out, dim=-1) + 1e-7).flatten(start_dim=1)
        embed = self.seg_1(torch.cat((mean, std), dim=1))
        if self.two_emb_layer:
            embed = self.seg_2(self.seg_bn_1(F.relu(embed)))
        return embed

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.features(wav))


__all__ = ["WeSpeakerResNet34"]
