"""seedkit-export-onnx: the one-step enhancer and the ResNetSE34V2 / ECAPA-TDNN backbones run
with onnxruntime and agree with torch and with the original code's outputs (the reference
fixtures) to <= 1e-4; bad input is one ERROR line and no file. ``-s`` prints the diffs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import reference_weights as mw
import torch
from conftest import REPO, load_reference

import seedkit
import seedkit.bin.export_onnx as export_bin
from seedkit.errors import run_main

VOX_CONF = REPO / "egs" / "voxceleb" / "seed" / "conf" / "seed_rdm_mlp3.yaml"
TOL = 1e-4


def export(*args) -> int:
    return run_main(export_bin.main, "seedkit-export-onnx", [str(a) for a in args])


def session(path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("dim", ["D256", pytest.param("D512", marks=pytest.mark.slow)])
def test_enhancer_matches_torch_and_reference(tmp_path, dim):
    entry = load_reference("rdm_mlp.json")["entries"][dim]
    o = entry["one_step"]
    model = tmp_path / "official.model"
    torch.save(mw.state_dict_from_spec(entry["state_dict"]), model)
    assert export("--config", VOX_CONF, model, tmp_path / "seed.onnx") == 0
    sess = session(tmp_path / "seed.onnx")
    assert [i.name for i in sess.get_inputs()] == ["embeddings", "epsilon"]
    x, eps = np.asarray(o["embeddings"], np.float32), np.asarray(o["epsilon"], np.float32)
    got = sess.run(None, {"embeddings": x, "epsilon": eps})[0]
    ref = np.asarray(o["expected_enhanced"], np.float32)
    enh = seedkit.Enhancer.load(model, VOX_CONF)
    torch_out = enh.enhance(x, noise=eps)
    d_torch, d_ref = np.abs(got - torch_out).max(), np.abs(got - ref).max()
    print(f"\n{dim}: onnxruntime vs torch {d_torch:.2g}, vs the original {d_ref:.2g} "
          f"(values up to {np.abs(ref).max():.3g})")
    assert d_torch <= TOL and d_ref <= TOL
    # dynamic batch: 1 row and 9 rows
    rng = np.random.default_rng(0)
    for n in (1, 9):
        xb = rng.standard_normal((n, x.shape[1])).astype(np.float32)
        eb = rng.standard_normal((n, x.shape[1])).astype(np.float32)
        out = sess.run(None, {"embeddings": xb, "epsilon": eb})[0]
        assert out.shape == (n, x.shape[1])
        assert np.abs(out - enh.enhance(xb, noise=eb)).max() <= TOL


def test_bad_input_is_one_error_line_and_no_file(tmp_path, capsys):
    junk = tmp_path / "junk.model"
    torch.save({"conv1.weight": torch.zeros(3)}, junk)
    cases = [
        (["--config", VOX_CONF, junk, tmp_path / "a.onnx"], "not a SEED checkpoint"),
        ([junk], "give the SEED model and the output file"),
        (["--backbone", REPO / "egs" / "mini" / "seed" / "conf" / "ge2e.yaml",
          tmp_path / "a.onnx"], "does not export"),
        (["--config", VOX_CONF, junk, junk], "also an input"),
    ]
    for args, what in cases:
        capsys.readouterr()
        assert export(*args) != 0
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
        assert len(err) == 1 and what in err[0], (args, err)
        assert not (tmp_path / "a.onnx").exists()
        assert not list(tmp_path.glob("*.onnx*"))


FIXTURES = {"ResNetSE34V2": ("backbone_ResNetSE34V2.json", "resnetse34v2.yaml"),
            "ECAPA_TDNN": ("backbone_ECAPA_TDNN.json", "ecapa_tdnn.yaml")}


@pytest.mark.slow  # the export traces the whole network: 1-2 min each on 2 cores
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_backbone_matches_torch_and_reference(tmp_path, name):
    spec = load_reference(FIXTURES[name][0])
    ckpt = tmp_path / "w.model"
    torch.save(mw.state_dict_from_spec(spec), ckpt)
    conf = REPO / "egs" / "voxceleb" / "seed" / "conf" / FIXTURES[name][1]
    assert export("--backbone", conf, "--checkpoint", ckpt, tmp_path / "b.onnx") == 0
    sess = session(tmp_path / "b.onnx")
    bb = seedkit.Backbone.load(conf, checkpoint=ckpt)
    worst_t = worst_r = 0.0
    for case in spec["cases"]:
        waves = torch.stack([mw.fixture_waveform(case["input"]["num_samples"], s)
                             for s in case["input"]["seeds"]]).numpy()
        got = sess.run(None, {"waveform": waves})[0]
        ref = np.asarray(case["expected_output"], np.float32)
        with torch.no_grad():
            tor = bb.model(torch.from_numpy(waves)).numpy()
        worst_t = max(worst_t, float(np.abs(got - tor).max()))
        worst_r = max(worst_r, float(np.abs(got - ref).max()))
        # batch of one (ECAPA's graph was traced with batches >= 2)
        one = sess.run(None, {"waveform": waves[:1]})[0]
        worst_t = max(worst_t, float(np.abs(one[0] - tor[0]).max()))
    print(f"\n{name}: onnxruntime vs torch {worst_t:.2g}, vs the original {worst_r:.2g}")
    assert worst_t <= TOL and worst_r <= TOL
