"""seedkit.models.kaldi_fbank (torchaudio's Kaldi fbank) against kaldi-native-fbank, the C++ fbank
sherpa-onnx uses, for the settings seedkit uses (WeSpeaker's front end and sherpa-onnx's), and the
defaults in which the two libraries (and Kaldi) differ."""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch
from torchaudio.compliance import kaldi as ta_kaldi

from seedkit.errors import SeedkitError
from seedkit.models.kaldi_fbank import (
    SHERPA_ONNX_FBANK,
    WESPEAKER_FBANK,
    KaldiFbankOptions,
    kaldi_fbank,
)


def knf_options(o: KaldiFbankOptions) -> knf.FbankOptions:
    """The kaldi-native-fbank options equal to ``o`` (every field set)."""
    k = knf.FbankOptions()
    f = k.frame_opts
    f.samp_freq = float(o.sample_rate)
    f.frame_length_ms = o.frame_length_ms
    f.frame_shift_ms = o.frame_shift_ms
    f.dither = o.dither
    f.window_type = o.window_type
    f.snip_edges = o.snip_edges
    f.preemph_coeff = o.preemphasis_coefficient
    f.remove_dc_offset = o.remove_dc_offset
    f.round_to_power_of_two = o.round_to_power_of_two
    k.mel_opts.num_bins = o.num_mel_bins
    k.mel_opts.low_freq = o.low_freq
    k.mel_opts.high_freq = o.high_freq
    k.use_energy = o.use_energy
    k.energy_floor = o.energy_floor
    return k


def knf_fbank(x: np.ndarray, opts: knf.FbankOptions, scale: float = 32768.0) -> np.ndarray:
    """Run kaldi-native-fbank on the whole of ``x`` (float in [-1, 1]): [T, dim]."""
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(opts.frame_opts.samp_freq, (x * scale).astype(np.float32).tolist())
    fb.input_finished()
    return np.stack([np.asarray(fb.get_frame(i)) for i in range(fb.num_frames_ready)])


def speechlike(n: int, seed: int) -> np.ndarray:
    """A harmonic-plus-noise signal in [-1, 1] with a digitally silent stretch."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x += 0.05 * rng.standard_normal(n)
    x[n // 3:n // 3 + 2000] = 0.0
    return x.astype(np.float32)


@pytest.mark.parametrize("name,opts", [("wespeaker", WESPEAKER_FBANK),
                                       ("sherpa-onnx", SHERPA_ONNX_FBANK)])
@pytest.mark.parametrize("n", [16000, 16000 + 123, 40_321])
def test_agrees_with_kaldi_native_fbank(name, opts, n):
    x = speechlike(n, n)
    ours = kaldi_fbank(torch.from_numpy(x), opts).numpy()
    ref = knf_fbank(x, knf_options(opts))
    assert ours.shape == ref.shape == (opts.num_frames(n), 80), name
    # log-mel energies of order 10..25; float32 FFTs of two libraries
    err = np.abs(ours - ref)
    assert err.max() < 2e-3, (name, n, err.max())
    assert np.median(err) < 1e-4


def test_front_ends_differ_as_documented():
    """WeSpeaker (hamming, snip_edges) and sherpa-onnx (povey, no snip, high_freq -400) are
    different features of the same audio: the presets are not interchangeable."""
    x = torch.from_numpy(speechlike(16000, 1))
    a = kaldi_fbank(x, WESPEAKER_FBANK)
    b = kaldi_fbank(x, SHERPA_ONNX_FBANK)
    assert a.shape == (98, 80) and b.shape == (100, 80)
    assert (a[1:50] - b[2:51]).abs().max() > 0.1


def test_batch_equals_rows_and_sample_scale():
    xs = torch.from_numpy(np.stack([speechlike(8000, s) for s in range(3)]))
    batch = kaldi_fbank(xs, SHERPA_ONNX_FBANK)
    assert batch.shape == (3, 50, 80)
    for i in range(3):
        assert torch.equal(batch[i], kaldi_fbank(xs[i], SHERPA_ONNX_FBANK))
    unit = SHERPA_ONNX_FBANK.with_overrides({"sample_scale": 1.0})
    assert torch.allclose(kaldi_fbank(xs * 32768.0, unit), batch, atol=1e-5)


@pytest.mark.parametrize("snip", [True, False])
def test_num_frames(snip):
    opts = KaldiFbankOptions(snip_edges=snip)
    for n in (400, 401, 559, 560, 16000, 16079, 16080, 16081):
        assert kaldi_fbank(torch.zeros(n) + 0.01, opts).shape[0] == opts.num_frames(n), n


def test_default_dither_differs():
    """Kaldi dithers by default (1.0 on int16 samples; kaldi-native-fbank 3e-5, i.e. 1.0 on
    [-1, 1] samples), torchaudio does not (0.0): knf at its defaults gives a different fbank on
    each run; seedkit sets dither 0 everywhere (deterministic embeddings)."""
    assert knf.FbankOptions().frame_opts.dither == pytest.approx(3e-5)
    x = speechlike(8000, 2)
    k = knf.FbankOptions()
    a, b = knf_fbank(x, k, scale=1.0), knf_fbank(x, k, scale=1.0)
    assert np.abs(a - b).max() > 1e-3  # random dither: not repeatable
    t = torch.from_numpy(x)
    assert torch.equal(ta_kaldi.fbank(t[None]), ta_kaldi.fbank(t[None]))  # dither 0.0
    assert KaldiFbankOptions().dither == 0.0


def test_default_energy_floor_differs():
    """With ``use_energy``, torchaudio floors the log energy at log(1.0) = 0 by default, Kaldi
    and kaldi-native-fbank at 0.0 (no floor): on digital silence the energy column is 0 in one
    and log(FLT_EPSILON) = -15.9 in the other. KaldiFbankOptions uses Kaldi's 0.0."""
    assert knf.FbankOptions().energy_floor == 0.0
    x = np.zeros(4000, np.float32)
    x[2400:] = speechlike(1600, 3)
    k = knf.FbankOptions()
    k.frame_opts.dither = 0.0
    k.use_energy = True
    ref = knf_fbank(x, k)
    ta_default = ta_kaldi.fbank(torch.from_numpy(x * 32768.0)[None], use_energy=True).numpy()
    assert ref.shape == ta_default.shape == (23, 24)
    # frames wholly inside the silence (the first 13 end before sample 2400)
    assert np.allclose(ref[:10, 0], np.log(np.finfo(np.float32).eps), atol=1e-4)
    assert np.allclose(ta_default[:10, 0], 0.0)
    ours = kaldi_fbank(torch.from_numpy(x), KaldiFbankOptions(num_mel_bins=23, use_energy=True))
    assert np.abs(ours.numpy() - ref).max() < 2e-3


def test_bad_options():
    with pytest.raises(SeedkitError, match="window_type"):
        KaldiFbankOptions(window_type="hann")
    with pytest.raises(SeedkitError, match="unknown fbank option"):
        WESPEAKER_FBANK.with_overrides({"n_mels": 64})
    with pytest.raises(ValueError):
        kaldi_fbank(torch.zeros(1, 2, 400))
