"""Make tests/data/wespeaker/ (see README.md there): WeSpeaker's own ResNet34 and fbank code on
deterministic weights. Run once, outside the repository's package (the tests import only
:func:`deterministic_weights`, so nothing of WeSpeaker's is imported at the top):

    python tests/data/wespeaker/make_fixture.py --wespeaker /tmp/ws_scratch \
        --out tests/data/wespeaker

``--wespeaker`` is a directory holding WeSpeaker's ``wespeaker/models/resnet.py``,
``wespeaker/models/pooling_layers.py``, ``wespeaker/dataset/processor.py`` and
``wespeaker/dataset/dataset_utils.py`` (with empty ``__init__.py`` files) from the commit named in
README.md. The weights are not stored: :func:`deterministic_weights` (which
tests/models/test_backbone_wespeaker.py imports) regenerates them from a seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

SEED = 23
#: utterance -> number of samples (16 kHz)
LENGTHS = {"utt1": 20_800, "utt2": 43_521}


def deterministic_weights(shapes: dict[str, tuple[int, ...]], seed: int = SEED
                          ) -> dict[str, torch.Tensor]:
    """Weights for every key of ``shapes`` from numpy's PCG64 (stable across versions), drawn
    in sorted key order: He-scaled conv/linear weights, BN affine near (1, 0), BN running mean
    ~0.1 N(0, 1), running var in [0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(shapes):
        shape = tuple(shapes[name])
        if name.endswith("num_batches_tracked"):
            out[name] = torch.zeros((), dtype=torch.long)
            continue
        if name.endswith("running_var"):
            v = 0.5 + rng.random(shape)
        elif name.endswith("running_mean"):
            v = 0.1 * rng.standard_normal(shape)
        elif len(shape) == 1 and name.endswith("weight"):
            v = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith("bias"):
            v = 0.05 * rng.standard_normal(shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            v = rng.standard_normal(shape) * np.sqrt((2.0 if len(shape) == 4 else 1.0) / fan_in)
        out[name] = torch.from_numpy(np.asarray(v, dtype=np.float32))
    return out


def voice(n: int, seed: int) -> np.ndarray:
    """A deterministic voiced-like signal in [-1, 1]."""
    rng = np.random.default_rng(100 + seed)
    t = np.arange(n) / 16000
    f0 = 120 + 50 * seed
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9))
    x = 0.2 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t)) + 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--wespeaker", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args()
    sys.path.insert(0, str(args.wespeaker))
    from wespeaker.dataset.dataset_utils import apply_cmvn
    from wespeaker.dataset.processor import compute_fbank
    from wespeaker.models.resnet import ResNet34

    torch.set_num_threads(1)
    model = ResNet34(feat_dim=80, embed_dim=256, pooling_func="TSTP", two_emb_layer=False)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(deterministic_weights(shapes), strict=True)
    model.eval()
    expected = {}
    for i, (utt, n) in enumerate(LENGTHS.items()):
        path = args.out / f"{utt}.wav"
        sf.write(str(path), voice(n, i), 16000, subtype="PCM_16")
        wav, rate = sf.read(str(path), dtype="float32")  # what torchaudio.load gives: int16/32768
        sample = {"key": utt, "label": 0, "sample_rate": rate,
                  "wav": torch.from_numpy(wav)[None]}
        # wespeaker/bin/extract.py: test_conf fbank_args with dither 0.0, then batch CMN
        feat = next(compute_fbank(iter([sample]), num_mel_bins=80, frame_length=25,
                                  frame_shift=10, dither=0.0))["feat"]
        feats = apply_cmvn(feat[None].float(), norm_mean=True, norm_var=False)
        with torch.no_grad():
            emb = model(feats)[-1][0]
        expected[utt] = [float(x) for x in emb]
    (args.out / "expected.json").write_text(json.dumps(
        {"seed": SEED, "lengths": LENGTHS, "state_dict_shapes": shapes, "embeddings": expected},
        indent=0) + "\n")
    print({u: (float(np.abs(e).max()), float(np.linalg.norm(e))) for u, e in expected.items()})


if __name__ == "__main__":
    main()
