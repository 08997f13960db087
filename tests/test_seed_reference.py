"""SEED network, schedule, loss and one-step enhancement against the original's numbers
(``tests/data/reference/rdm_mlp.json``), with weights loaded as a bare official state dict."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_weights as mw
import torch
from conftest import load_reference

from seedkit.seed.checkpoint import load_official_state_dict
from seedkit.seed.config import merge_config, resolve_dims
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.network import RDMMLP, num_parameters

RTOL, ATOL = 1e-4, 1e-5


def _t(x):
    return torch.tensor(np.asarray(x, dtype=np.float32))


def _close(actual: torch.Tensor, expected, what: str) -> float:
    exp = _t(expected)
    act = actual.detach().to(torch.float32)
    assert act.shape == exp.shape, what
    diff = float((act - exp).abs().max())
    assert torch.allclose(act, exp, rtol=RTOL, atol=ATOL), f"{what}: max abs diff {diff}"
    return diff


@pytest.fixture(scope="module")
def ref():
    return load_reference("rdm_mlp.json")


@pytest.fixture(scope="module", params=["D512", "D256"])
def entry_model(request, ref):
    entry = ref["entries"][request.param]
    d = entry["D"]
    cfg = resolve_dims(merge_config({"embed_dim": d}))
    sd = mw.state_dict_from_spec(entry["state_dict"])
    model = SeedDiffusion(cfg)
    load_official_state_dict(model.net, sd, "<fixture>")
    model.eval()
    return entry, model


def test_layout_matches_official(ref):
    for entry in ref["entries"].values():
        d = entry["D"]
        net = RDMMLP(d)
        sd = net.state_dict()
        assert [(k, list(v.shape)) for k, v in sd.items()] == \
            [(e["key"], e["shape"]) for e in entry["state_dict"]]
        assert num_parameters(net) == entry["num_parameters"]


def test_fresh_network_outputs_zero():
    net = RDMMLP(16)
    out = net(torch.randn(3, 16), torch.tensor([0, 5, 999]))
    assert torch.count_nonzero(out) == 0


def test_forward(entry_model):
    entry, model = entry_model
    f = entry["forward"]
    out = model.net(_t(f["x"]), torch.tensor(f["timesteps"], dtype=torch.int64))
    _close(out, f["expected_output"], "forward")


def test_inference_path_matches_module_path(entry_model):
    """Eval mode without autograd takes a fused path; it computes the same function."""
    entry, model = entry_model
    f = entry["forward"]
    x, t = _t(f["x"]), torch.tensor(f["timesteps"])
    with torch.no_grad():
        fused_shared = model.net(x, 50)
        fused = model.net(x, t)
    _close(fused, f["expected_output"], "fused forward")
    torch.testing.assert_close(fused_shared, model.net(x, torch.full((4,), 50)).detach(),
                               rtol=RTOL, atol=ATOL)


def test_batch_of_one_keeps_rank(entry_model):
    entry, model = entry_model
    f = entry["forward"]
    x = _t(f["x"])
    full = model.net(x, torch.tensor(f["timesteps"]))
    for i, t in enumerate(f["timesteps"]):
        one = model.net(x[i:i + 1], torch.tensor([t]))
        assert one.shape == (1, entry["D"])
        torch.testing.assert_close(one[0], full[i], rtol=RTOL, atol=ATOL)
        vec = model.net(x[i], t)
        assert vec.shape == (entry["D"],)


def test_one_step(entry_model):
    entry, model = entry_model
    o = entry["one_step"]
    assert model.scale == pytest.approx(entry["scale"])
    assert model.clip_range == pytest.approx(entry["clip_sample_range"])
    e, eps = _t(o["embeddings"]), _t(o["epsilon"])
    _close(model.normalize(e), o["x_scaled"], "x_scaled")
    x_t = model.schedule.add_noise(model.normalize(e), eps, torch.tensor(o["t"]))
    _close(x_t, o["x_t"], "x_t")
    _close(model.net(x_t, o["t"]), o["net_output"], "net_output")
    out = model.enhance(e, eps, t_star=o["t"], steps=1)
    _close(out, o["expected_enhanced"], "one-step enhanced")


def test_scheduler_step_clip(entry_model):
    entry, model = entry_model
    s = entry["scheduler_step_clip"]
    out = _t(s["model_output"])
    sample = _t(entry["one_step"]["x_t"])[:2]
    t = s["timestep"]
    prev_t = t - 1000 // 50  # diffusers: t - T // num_inference_steps, 30 here
    prev, x0 = model.schedule.ddim_step(out, t, sample, prev_t, model.clip_range)
    _close(x0, s["expected_pred_original_sample"], "clamped x0")
    _close(prev, s["expected_prev_sample"], "DDIM prev sample")
    frac = float((out.abs() > model.clip_range).float().mean())
    assert frac == pytest.approx(s["fraction_clipped"])


def test_train_loss(entry_model):
    entry, model = entry_model
    tl = entry["train_loss"]
    t = torch.tensor(tl["t"], dtype=torch.int64)
    x_start, x_target, eps = _t(tl["x_start"]), _t(tl["x_target"]), _t(tl["epsilon"])
    _close(model.schedule.add_noise(x_start, eps, t), tl["x_t"], "train x_t")
    loss = model(x_start, x_target, t, eps)
    assert math.isclose(float(loss.detach()), tl["expected_loss"], rel_tol=RTOL, abs_tol=ATOL)


def test_train_step_end_to_end_pairing(entry_model):
    """Pair-major rows from [S, B, D] backbone embeddings: row = (s-1)*B + b, target = s 0."""
    entry, model = entry_model
    e2e = entry["train_step_end_to_end"]
    emb = _t(e2e["backbone_embeddings_SBD"])
    s, b, d = emb.shape
    x_target = emb[0].repeat(s - 1, 1)
    x_start = emb[1:].reshape((s - 1) * b, d)
    loss = model(x_start, x_target, torch.tensor(e2e["t"]), _t(e2e["epsilon"]))
    assert math.isclose(float(loss.detach()), e2e["expected_loss"], rel_tol=RTOL, abs_tol=ATOL)


def test_schedule(ref):
    s = ref["schedule"]
    model = SeedDiffusion(resolve_dims(merge_config({"embed_dim": 8})))
    sch = model.schedule
    np.testing.assert_array_equal(sch.alphas_cumprod.numpy(),
                                  np.asarray(s["alphas_cumprod_all"], dtype=np.float32))
    np.testing.assert_array_equal(sch.betas.numpy(), np.asarray(s["betas_all"], dtype=np.float32))
    for t, a, b in zip(s["t"], s["alphas_cumprod"], s["betas"]):
        assert float(sch.alphas_cumprod[t]) == pytest.approx(a, rel=1e-7)
        assert float(sch.betas[t]) == pytest.approx(b, rel=1e-7)
    assert sch.ddim_timesteps(50) == s["timesteps_after_set_timesteps_50"]
    assert float(sch.final_alpha_cumprod) == s["final_alpha_cumprod"]
