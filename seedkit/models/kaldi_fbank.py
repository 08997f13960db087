"""One Kaldi log-mel filterbank for every backbone that needs one (WeSpeaker, ONNX exports, ...).

:func:`kaldi_fbank` wraps ``torchaudio.compliance.kaldi.fbank`` (Kaldi's ``compute-fbank-feats``
in torch; fbank is not written again here) with the settings in a :class:`KaldiFbankOptions`,
and adds a batch axis. ``tests/models/test_kaldi_fbank.py`` checks it against kaldi-native-fbank
(the C++ fbank sherpa-onnx uses) for the settings seedkit uses.

Where the libraries' *defaults* differ (set every field explicitly when porting a front end):

==========================  ==================  =======================  =====================
setting                     Kaldi / knf         torchaudio ``fbank``     KaldiFbankOptions
==========================  ==================  =======================  =====================
``num_mel_bins``            23 (knf: 23)        23                       80
``dither``                  1.0 (knf: 3e-5)     0.0                      0.0
``energy_floor``            0.0                 1.0                      0.0
``window_type``             povey               povey                    povey
``snip_edges``              true                true                     true
``high_freq``               0 (= Nyquist)       0                        0
==========================  ==================  =======================  =====================

The two presets :data:`WESPEAKER_FBANK` and :data:`SHERPA_ONNX_FBANK` are the front ends of
WeSpeaker's own inference code (hamming window, ``snip_edges`` true, dither 0) and of
sherpa-onnx's speaker-embedding extractor (kaldi-native-fbank at its defaults, 80 bins,
``snip_edges`` false, ``high_freq`` -400, dither 0).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor
from torchaudio.compliance import kaldi as _kaldi

from seedkit.errors import SeedkitError

WINDOW_TYPES = ("povey", "hamming", "hanning", "rectangular", "blackman")


@dataclass(frozen=True)
class KaldiFbankOptions:
    """Settings of :func:`kaldi_fbank` (Kaldi's names, frame lengths in milliseconds).

    ``sample_scale`` multiplies the waveform before the fbank: 32768.0 for front ends trained
    on int16-range samples (Kaldi, WeSpeaker, sherpa-onnx), 1.0 for float audio in [-1, 1].
    """

    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0
    window_type: str = "povey"
    snip_edges: bool = True
    use_energy: bool = False
    energy_floor: float = 0.0
    low_freq: float = 20.0
    high_freq: float = 0.0
    preemphasis_coefficient: float = 0.97
    remove_dc_offset: bool = True
    round_to_power_of_two: bool = True
    sample_rate: int = 16000
    sample_scale: float = 32768.0

    def __post_init__(self) -> None:
        if self.window_type not in WINDOW_TYPES:
            raise SeedkitError(f"fbank window_type {self.window_type!r} is not one of "
                               f"{', '.join(WINDOW_TYPES)}")
        if self.num_mel_bins < 1 or self.frame_length_ms <= 0 or self.frame_shift_ms <= 0:
            raise SeedkitError("fbank num_mel_bins, frame_length_ms and frame_shift_ms must be "
                               "> 0")
        if self.sample_rate <= 0 or self.sample_scale <= 0 or self.dither < 0:
            raise SeedkitError("fbank sample_rate and sample_scale must be > 0, dither >= 0")

    def frame_length(self) -> int:
        """Window length in samples."""
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    def frame_shift(self) -> int:
        """Hop in samples."""
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    def num_frames(self, num_samples: int) -> int:
        """Frames :func:`kaldi_fbank` returns for ``num_samples`` samples (Kaldi's rule)."""
        length, shift = self.frame_length(), self.frame_shift()
        if self.snip_edges:
            return 0 if num_samples < length else 1 + (num_samples - length) // shift
        return (num_samples + shift // 2) // shift

    def with_overrides(self, overrides: dict[str, Any]) -> "KaldiFbankOptions":
        """A copy with the fields in ``overrides`` replaced (unknown names raise)."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise SeedkitError(f"unknown fbank option(s) {unknown}; known: "
                               f"{', '.join(sorted(names))}")
        return replace(self, **overrides)


#: WeSpeaker's inference front end (``wespeaker/cli/speaker.py``, ``compute_fbank``): hamming
#: window, ``snip_edges`` true, dither 0, energy off; waveform x32768 (per-utterance CMN follows,
#: outside the fbank).
WESPEAKER_FBANK = KaldiFbankOptions(window_type="hamming", snip_edges=True, dither=0.0)

#: sherpa-onnx's speaker-embedding front end: kaldi-native-fbank's defaults with 80 bins,
#: ``snip_edges`` false, ``high_freq`` -400 (Nyquist - 400 Hz) and dither 0.
SHERPA_ONNX_FBANK = KaldiFbankOptions(window_type="povey", snip_edges=False, high_freq=-400.0,
                                      dither=0.0)


def _fbank_one(wav: Tensor, opts: KaldiFbankOptions) -> Tensor:
    return _kaldi.fbank(
        wav.unsqueeze(0), num_mel_bins=opts.num_mel_bins, frame_length=opts.frame_length_ms,
        frame_shift=opts.frame_shift_ms, dither=opts.dither, window_type=opts.window_type,
        snip_edges=opts.snip_edges, use_energy=opts.use_energy, energy_floor=opts.energy_floor,
        low_freq=opts.low_freq, high_freq=opts.high_freq,
        preemphasis_coefficient=opts.preemphasis_coefficient,
        remove_dc_offset=opts.remove_dc_offset,
        round_to_power_of_two=opts.round_to_power_of_two,
        sample_frequency=float(opts.sample_rate))


def kaldi_fbank(wav: Tensor, opts: KaldiFbankOptions = KaldiFbankOptions()) -> Tensor:
    """Kaldi log-mel fbank of ``wav`` ([N] or [B, N] float, in [-1, 1] unless ``sample_scale``
    is 1) -> [T, n_mels] or [B, T, n_mels] (``+1`` column first when ``use_energy``)."""
    if wav.dim() not in (1, 2):
        raise ValueError(f"kaldi_fbank takes a [N] or [B, N] waveform, got {tuple(wav.shape)}")
    x = wav.float()
    if opts.sample_scale != 1.0:
        x = x * opts.sample_scale
    if x.dim() == 1:
        return _fbank_one(x, opts)
    return torch.stack([_fbank_one(row, opts) for row in x])


__all__ = ["KaldiFbankOptions", "SHERPA_ONNX_FBANK", "WESPEAKER_FBANK", "kaldi_fbank"]
