"""SEED network, schedule, loss and one-step enhancement against the original's numbers
(``tests/data/reference/rdm_mlp.json``), with weights loaded as a bare official state dict."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_weights as mw
import torch
from conftest import load_reference

from seedkit.embio import write_embeddings
from seedkit.seed.checkpoint import load_official_state_dict
from seedkit.seed.config import merge_config, resolve_dims
from seedkit.seed.data import load_pairs
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


KINDS = ("music", "noise", "reverb")


def _seedkit_pairs(sbd: torch.Tensor, tmp) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_start, x_target)`` as seedkit's pair loader builds them from cached embeddings.

    ``sbd`` is the original's ``[S, B, D]`` batch: s 0 the clean target, s 1 its clean copy,
    s 2..4 the music / noise / reverb copies of utterance b. Only the clean embeddings
    (``u<b>``) and the augmented ones (``u<b>-<kind>1``, the augmentation's names) are written,
    with an utt2clean list of the augmented copies: the clean-copy pair must come from seedkit
    itself (``add_identity_pairs``). The pairs are returned in the fixture's pair-major row
    order, row = (s - 1) * B + b, found by the utterance names seedkit records for each pair.
    """
    s, b, _ = sbd.shape
    assert s == 1 + 1 + len(KINDS)
    clean = [(f"u{j}", sbd[0, j].numpy()) for j in range(b)]
    noisy = [(f"u{j}-{k}1", sbd[2 + i, j].numpy()) for i, k in enumerate(KINDS) for j in range(b)]
    write_embeddings(f"ark,scp:{tmp}/clean.ark,{tmp}/clean.scp", clean)
    write_embeddings(f"ark,scp:{tmp}/noisy.ark,{tmp}/noisy.scp", noisy)
    (tmp / "utt2clean").write_text("".join(f"{k} {k.split('-')[0]}\n" for k, _ in noisy))
    ps = load_pairs(f"scp:{tmp}/clean.scp", f"scp:{tmp}/noisy.scp", tmp / "utt2clean",
                    add_identity=True)
    assert (len(ps), ps.num_listed, ps.num_identity) == ((s - 1) * b, len(KINDS) * b, b)
    by_source = {ps.names[i]: n for n, i in enumerate(ps.src.tolist())}
    assert len(by_source) == len(ps)  # every pair has its own source embedding
    order = []
    for pair in range(s - 1):
        for j in range(b):
            name = f"clean:u{j}" if pair == 0 else f"noisy:u{j}-{KINDS[pair - 1]}1"
            n = by_source[name]
            assert ps.names[ps.tgt[n]] == f"clean:u{j}", name
            order.append(n)
    table = torch.from_numpy(ps.table)
    idx = torch.as_tensor(order)
    return table[torch.from_numpy(ps.src)[idx]], table[torch.from_numpy(ps.tgt)[idx]]


def test_train_loss(entry_model, tmp_path):
    """The stored batch is 2 utterances x 4 pairs, pair-major; seedkit's pair loader rebuilds
    it from the cached clean / augmented embeddings, then the loss is the original's."""
    entry, model = entry_model
    tl = entry["train_loss"]
    t = torch.tensor(tl["t"], dtype=torch.int64)
    x_start, x_target, eps = _t(tl["x_start"]), _t(tl["x_target"]), _t(tl["epsilon"])
    b = 2
    sbd = torch.cat([x_target[:b], x_start]).reshape(-1, b, entry["D"])
    got_start, got_target = _seedkit_pairs(sbd, tmp_path)
    assert torch.equal(got_start, x_start) and torch.equal(got_target, x_target)
    _close(model.schedule.add_noise(got_start, eps, t), tl["x_t"], "train x_t")
    loss = model(got_start, got_target, t, eps)
    assert math.isclose(float(loss.detach()), tl["expected_loss"], rel_tol=RTOL, abs_tol=ATOL)


def test_train_step_end_to_end_pairing(entry_model, tmp_path):
    """The original's [S, B, D] backbone batch, cached as seedkit caches embeddings and paired
    by seedkit's loader, gives the original's pair-major training batch and loss."""
    entry, model = entry_model
    e2e = entry["train_step_end_to_end"]
    emb = _t(e2e["backbone_embeddings_SBD"])
    s, b, d = emb.shape
    x_start, x_target = _seedkit_pairs(emb, tmp_path)
    assert x_start.shape == x_target.shape == ((s - 1) * b, d)
    for pair in range(s - 1):  # pair 0 is the clean copy (s = 1), made by add_identity_pairs
        assert torch.equal(x_start[pair * b:(pair + 1) * b], emb[pair + 1])
        assert torch.equal(x_target[pair * b:(pair + 1) * b], emb[0])
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
