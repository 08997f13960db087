"""seedkit's backbones compute what the original SEED code / resemblyzer compute.

The state dicts come from ``tests/reference_weights.py``; each is saved in every accepted
checkpoint layout, loaded through seedkit's loader and run on the fixture waveforms. Expected
outputs are in ``backbone_*.json`` (produced by the original code) and ``ge2e.json`` (resemblyzer
0.1.4 with its real ``pretrained.pt``). Tolerance: rtol 1e-4, atol 1e-5 (the fixtures' own).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import reference_weights as mw
import torch
from conftest import load_reference

from seedkit.models import build_backbone
from seedkit.models.checkpoint import load_backbone_checkpoint
from seedkit.models.config import resemblyzer_checkpoint
from seedkit.models.ge2e import plan_partials

RTOL, ATOL = 1e-4, 1e-5
FIXTURES = {"ResNetSE34V2": "backbone_ResNetSE34V2.json", "ECAPA_TDNN": "backbone_ECAPA_TDNN.json"}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: more threads only contend
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def backbone(request):
    """(name, fixture, bare state dict, state dict with derived buffers, waveforms per case)."""
    name = request.param
    spec = load_reference(FIXTURES[name])
    bare = mw.state_dict_from_spec(spec)
    full = dict(bare)
    full.update(mw.state_dict_from_spec(
        {"state_dict": [e for e in spec["state_dict"] if e.get("derived")],
         "derived_buffers": spec["derived_buffers"]}, include_derived=True))
    waves = {c["name"]: torch.stack([mw.fixture_waveform(c["input"]["num_samples"], s)
                                     for s in c["input"]["seeds"]]) for c in spec["cases"]}
    return name, spec, bare, full, waves


def _forms(bare: dict, full: dict) -> dict[str, object]:
    """Every accepted checkpoint layout of the same weights."""
    junk = {"__L__.W": torch.ones(3, 4), "__L__.fc.weight": torch.zeros(5, 512)}
    return {
        "bare": bare,
        "bare+derived": full,
        "__S__+__L__": {**{f"__S__.{k}": v for k, v in bare.items()}, **junk},
        "module.__S__+derived": {f"module.__S__.{k}": v for k, v in full.items()},
        "module.": {f"module.{k}": v for k, v in bare.items()},
        "model_state_dict": {"model_state_dict": full, "epoch": 3,
                             "optimizer_state_dict": {"lr": torch.tensor(0.1)}},
        "model": {"model": {f"backbone.{k}": v for k, v in bare.items()}},
    }


def test_state_dict_layout_matches_official(backbone):
    name, spec, _, _, _ = backbone
    model = build_backbone(name)
    own = model.state_dict()
    assert [(k, list(v.shape)) for k, v in own.items()] == [
        (e["key"], e["shape"]) for e in spec["state_dict"]]
    assert len(own) == spec["num_state_dict_entries"]
    assert sum(p.numel() for p in model.parameters()) == spec["num_parameters"]
    # the derived buffers the model computes equal the original's stored values
    for d in spec["derived_buffers"]:
        ref = torch.tensor(d["value"], dtype=torch.float32).reshape(d["shape"])
        torch.testing.assert_close(own[d["key"]], ref, rtol=0, atol=1e-7)


def _check_outputs(name, spec, waves, model, label) -> float:
    worst = 0.0
    for case in spec["cases"]:
        with torch.no_grad():
            out = model(waves[case["name"]])
        exp = torch.tensor(case["expected_output"])
        torch.testing.assert_close(out, exp, rtol=RTOL, atol=ATOL,
                                   msg=lambda m, c=case["name"]: f"{name} {label}/{c}: {m}")
        worst = max(worst, float((out - exp).abs().max()))
    return worst


def test_outputs_match_fixture_for_every_checkpoint_form(backbone, tmp_path):
    """Every layout, with derived buffers computed (absent) or loaded (present), both cases."""
    name, spec, bare, full, waves = backbone
    worst = 0.0
    for form, obj in _forms(bare, full).items():
        torch.save(obj, tmp_path / "w.model")
        model = build_backbone(name).eval()
        load_backbone_checkpoint(model, tmp_path / "w.model")
        worst = max(worst, _check_outputs(name, spec, waves, model, form))
    print(f"\n{name}: max abs diff over all forms and cases = {worst:.3g}")


def test_frontend_probes(backbone):
    name, spec, bare, _, waves = backbone
    model = build_backbone(name).eval()
    load_backbone_checkpoint(model, bare)
    after = "after_instancenorm" if name == "ResNetSE34V2" else "after_cmn"
    for case in spec["cases"]:
        probe = case["frontend_probe"]
        feats = model.features(waves[case["name"]])
        assert feats.shape[-1] == probe["num_frames"]
        got = feats[:, :, probe["frames"]]
        torch.testing.assert_close(got, torch.tensor(probe[after]), rtol=RTOL, atol=ATOL)


def test_waveform_recipe_matches_checksums(backbone):
    _, spec, _, _, waves = backbone
    for case in spec["cases"]:
        for row, ref in zip(waves[case["name"]], case["input"]["checksums"]):
            got = mw.waveform_checksum(row)
            assert got["first8"] == pytest.approx(ref["first8"], abs=1e-7)
            assert got["sum_sq"] == pytest.approx(ref["sum_sq"], rel=1e-9)


# ----------------------------------------------------------------------------------- GE2E
def ge2e_wave(seed: int, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """GE2E.md section 7.1: the fixture waveform (int16 grid q, float32 samples)."""
    n = int(round(duration * 16000))
    t = np.arange(n, dtype=np.float64) / 16000.0
    f0 = 110.0 + 40.0 * seed
    two_pi = 2.0 * np.pi
    phi = two_pi * f0 * t + (0.04 * f0 / 5.0) * np.sin(two_pi * 5.0 * t)
    h = sum(np.sin(k * phi) / k for k in range(1, 13))
    env = 0.55 + 0.45 * np.sin(two_pi * 3.0 * t + seed)
    if seed == 2:
        env[(t >= 2.5) & (t < 5.0)] = 0.0
    u = np.empty(n)
    state = seed
    for i in range(n):
        state = (1664525 * state + 1013904223) % 4294967296
        u[i] = state / 4294967296.0
    x = 0.03 * env * h + 0.002 * (2.0 * u - 1.0)
    q = np.clip(np.round(32768.0 * x), -32768, 32767).astype(np.int64)
    return q, (q / 32768.0).astype(np.float32)


@pytest.fixture(scope="module")
def ge2e():
    from seedkit.models.ge2e import GE2E

    model = GE2E().eval()
    load_backbone_checkpoint(model, resemblyzer_checkpoint())
    return model


def test_ge2e_checkpoint_is_the_fixture_one():
    fx = load_reference("ge2e.json")["checkpoint"]
    path = resemblyzer_checkpoint()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fx["sha256"]


def test_ge2e_embeddings_match_resemblyzer(ge2e):
    fx = load_reference("ge2e.json")
    worst = worst_p = 0.0
    for w in fx["waves"]:
        g = w["generator"]
        q, wav = ge2e_wave(g["seed"], g["duration_s"])
        assert hashlib.sha256(q.astype("<i2").tobytes()).hexdigest() == g["sha256_int16_le"]
        plan = ge2e.plan(len(wav))
        assert list(plan.candidate_starts) == w["partials"]["candidate_starts"]
        assert [[s, s + 160] for s in plan.starts] == w["partials"]["mel_slices"]
        assert plan.padded_length == w["mel"]["pad_to"]
        with torch.no_grad():
            emb, parts = ge2e.embed_utterance(torch.from_numpy(wav), return_partials=True)
            batched = ge2e(torch.from_numpy(np.stack([wav, wav])))
        exp = torch.tensor(w["embedding"])
        exp_p = torch.tensor(w["partial_embeddings"])
        torch.testing.assert_close(emb, exp, rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(parts, exp_p, rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(batched, torch.stack([exp, exp]), rtol=RTOL, atol=ATOL)
        worst = max(worst, float((emb - exp).abs().max()))
        worst_p = max(worst_p, float((parts - exp_p).abs().max()))
        # mel front end: first frames and per-channel sums of the padded waveform's mel
        padded = torch.nn.functional.pad(torch.from_numpy(wav), (0, plan.padded_length - len(wav)))
        mel = ge2e.mel(padded[None])[0].double()
        assert list(mel.shape) == w["mel"]["shape"]
        first = torch.tensor(w["mel"]["first_3_frames"], dtype=torch.float64)
        assert float((mel[:3] - first).abs().max() / first.abs().max()) < 1e-5
        sums = torch.tensor(w["mel"]["channel_sums_over_all_frames_float64"])
        assert float((mel.sum(0) - sums).abs().max() / sums.abs().max()) < 1e-5
    print(f"\nGE2E: max abs diff embeddings {worst:.3g}, partial embeddings {worst_p:.3g}")


def test_ge2e_partial_plan_examples():
    fx = load_reference("ge2e.json")["optional_preprocess_wav"]
    # GE2E.md section 4 table, including the preprocessed wave2 (83,040 samples)
    cases = {16000: ((0,), 25600), 51200: ((0, 77, 154), 51200),
             120000: (tuple(range(0, 617, 77)), 124160), 83040: (tuple(range(0, 386, 77)), 87200)}
    for n, (starts, padded) in cases.items():
        plan = plan_partials(n)
        assert plan.starts == starts and plan.padded_length == padded
    plan = plan_partials(fx["result"]["n_samples"])
    assert list(plan.candidate_starts) == fx["result"]["partials"]["candidate_starts"]
    assert [[s, s + 160] for s in plan.starts] == fx["result"]["partials"]["mel_slices"]
    # a single, very short partial is never dropped
    assert plan_partials(1).starts == (0,) and plan_partials(1).padded_length == 25600


def test_ge2e_accepts_bare_state_dict(ge2e, tmp_path):
    sd = {k: v.clone() for k, v in ge2e.state_dict().items()}
    torch.save(sd, tmp_path / "bare.pt")
    torch.save({"model_state": {**sd, "similarity_weight": torch.ones(1),
                                "similarity_bias": torch.zeros(1)}, "step": 5},
               tmp_path / "wrapped.pt")
    x = torch.from_numpy(ge2e_wave(1, 3.2)[1])[None]
    from seedkit.models.ge2e import GE2E

    for name in ("bare.pt", "wrapped.pt"):
        m = GE2E().eval()
        load_backbone_checkpoint(m, tmp_path / name)
        with torch.no_grad():
            torch.testing.assert_close(m(x), ge2e(x), rtol=0, atol=0)
