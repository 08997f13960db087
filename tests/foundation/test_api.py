"""The Python API (seedkit.Enhancer, seedkit.Backbone) against the reference fixtures and the
command-line tools."""

from __future__ import annotations

import numpy as np
import pytest
import reference_weights as mw
import torch
from conftest import REPO, load_reference
from release_configs import ECAPA_SEED

import seedkit
import seedkit.bin.enhance as enhance_bin
from seedkit.embio import read_embeddings, write_embeddings
from seedkit.errors import SeedkitError, run_main

VOX_CONF = REPO / "egs" / "voxceleb" / "seed" / "conf" / "seed_rdm_mlp3.yaml"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    entry = load_reference("rdm_mlp.json")["entries"]["D256"]
    path = tmp_path_factory.mktemp("m") / "ecapa_SEED_evalseed_898.model"
    torch.save(mw.state_dict_from_spec(entry["state_dict"]), path)
    return path, entry["one_step"]


def test_enhancer_reproduces_reference(official):
    path, o = official
    enh = seedkit.Enhancer.load(path, config=VOX_CONF, device="cpu")
    assert enh.embed_dim == 256
    x, eps = np.asarray(o["embeddings"], np.float32), np.asarray(o["epsilon"], np.float32)
    got = enh.enhance(x, noise=eps)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, np.asarray(o["expected_enhanced"], np.float32),
                               rtol=1e-4, atol=1e-5)
    # one vector in, one vector out, equal to its row of the batch
    one = enh.enhance(x[2], noise=eps[2])
    assert one.shape == (256,)
    np.testing.assert_allclose(one, got[2], atol=1e-5)


def test_enhancer_equals_cli(official, tmp_path):
    """Row r of enhance(x, seed, key=k) is row r of entry k of seedkit-enhance --seed."""
    path, o = official
    x = np.asarray(o["embeddings"], np.float32)
    write_embeddings(f"ark:{tmp_path / 'e.ark'}", [("spk1-utt", x), ("v", x[0])])
    assert run_main(enhance_bin.main, "seedkit-enhance",
                    ["--config", str(VOX_CONF), "--seed", "898", str(path),
                     f"ark:{tmp_path / 'e.ark'}", f"ark:{tmp_path / 'o.ark'}"]) == 0
    cli = read_embeddings(f"ark:{tmp_path / 'o.ark'}")
    enh = seedkit.Enhancer.load(path, VOX_CONF)
    np.testing.assert_allclose(enh.enhance(x, seed=898, key="spk1-utt"), cli["spk1-utt"],
                               atol=1e-6)
    np.testing.assert_allclose(enh.enhance(x[0], seed=898, key="v"), cli["v"], atol=1e-6)
    # another seed is another draw
    assert not np.allclose(enh.enhance(x, seed=2690, key="spk1-utt"), cli["spk1-utt"])
    # torch tensors are accepted
    np.testing.assert_allclose(enh.enhance(torch.from_numpy(x), seed=898, key="spk1-utt"),
                               cli["spk1-utt"], atol=1e-6)


def test_enhancer_refuses_bad_input(official, tmp_path):
    path, _ = official
    enh = seedkit.Enhancer.load(path, VOX_CONF)
    with pytest.raises(SeedkitError, match=r"\[N, 256\]"):
        enh.enhance(np.zeros((3, 512)))
    with pytest.raises(SeedkitError, match="NaN"):
        enh.enhance(np.full(256, np.nan))
    with pytest.raises(SeedkitError, match="shape"):
        enh.enhance(np.zeros((3, 256)), noise=np.zeros((2, 256)))
    with pytest.raises(SeedkitError, match="pass --config"):
        seedkit.Enhancer.load(path)
    (tmp_path / "junk.model").write_bytes(b"not a model")
    with pytest.raises(SeedkitError, match="not a SEED checkpoint"):
        seedkit.Enhancer.load(tmp_path / "junk.model", VOX_CONF)


@pytest.mark.slow  # 15-40 s on the shared 2-core machine (a full-size ECAPA on 2 s of audio)
def test_backbone_embeds_like_the_original(tmp_path):
    """The release ECAPA config as shipped + the fixture weights: embed() of the fixture
    waveforms (full crop) gives the original code's embeddings."""
    spec = load_reference("backbone_ECAPA_TDNN.json")
    ckpt = tmp_path / "official_ecapatdnn.model"
    torch.save(mw.state_dict_from_spec(spec), ckpt)
    conf = tmp_path / "ECAPA_SEED_rdmmlp3.yaml"
    conf.write_text(ECAPA_SEED)
    bb = seedkit.Backbone.load(conf, checkpoint=ckpt)
    assert bb.embed_dim == 256 and bb.sample_rate == 16000
    case = spec["cases"][0]
    exp = np.asarray(case["expected_output"], np.float32)
    for i, s in enumerate(case["input"]["seeds"]):
        wave = mw.fixture_waveform(case["input"]["num_samples"], s).numpy()
        np.testing.assert_allclose(bb.embed(wave, 16000), exp[i], rtol=1e-4, atol=1e-5)
    multi = bb.embed(wave, 16000, crop="multi:3:1.0")
    assert multi.shape == (3, 256)
    np.testing.assert_allclose(multi[0], bb.embed(wave[:16000], 16000), rtol=1e-4, atol=1e-5)
    with pytest.raises(SeedkitError, match="resample"):
        bb.embed(wave, 8000)
    with pytest.raises(SeedkitError, match="mono"):
        bb.embed(np.zeros((2, 100)), 16000)
