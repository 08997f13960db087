"""seedkit-enhance: vectors and multi-crop matrices, seeded noise independent of batching,
--noise, pipes, official state dicts (with the reference numbers), and refusals."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import reference_weights as mw
import torch
from conftest import REPO, load_reference

import seedkit.bin.enhance as enhance_bin
from seedkit.embio import read_embeddings, write_embeddings
from seedkit.errors import SeedkitError, run_main
from seedkit.seed.checkpoint import FORMAT, load_model, save_checkpoint
from seedkit.seed.config import merge_config, resolve_dims
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.enhance import keyed_noise

D = 12
VOX_CONF = REPO / "egs" / "voxceleb" / "seed" / "conf" / "seed_rdm_mlp3.yaml"


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)


def _random_model(objective: str = "diffusion") -> SeedDiffusion:
    cfg = resolve_dims(merge_config({"embed_dim": D, "model_channels": 24, "num_res_blocks": 2,
                                     "objective": objective}))
    torch.manual_seed(0)
    model = SeedDiffusion(cfg)
    with torch.no_grad():  # zero-initialised output layers would make every output 0
        for p in model.net.parameters():
            if p.dim() == 2 and not p.any():
                p.normal_(0, 0.3)
    return model.eval()


def _save_model(model: SeedDiffusion, path: Path) -> Path:
    save_checkpoint({"format": FORMAT, "kind": "model", "config": model.cfg,
                     "model": model.net.state_dict(), "step": 0, "epoch": 0,
                     "selected_by": "last", "dev_eer": None}, path)
    return path


@pytest.fixture
def setup(tmp_path):
    model = _random_model()
    mpath = _save_model(model, tmp_path / "final.pt")
    rng = np.random.default_rng(1)
    items = [(f"u{i:02d}", rng.standard_normal(D).astype(np.float32)) for i in range(7)]
    items += [("m0", rng.standard_normal((3, D)).astype(np.float32)),
              ("u03-crops", np.stack([items[3][1], items[4][1]]))]
    write_embeddings(f"ark,scp:{tmp_path / 'in.ark'},{tmp_path / 'in.scp'}", items)
    return model, mpath, dict(items), tmp_path


def _enhance(*argv) -> int:
    return run_main(enhance_bin.main, "seedkit-enhance", [str(a) for a in argv])


def test_vectors_and_matrices(setup):
    model, mpath, inp, tmp = setup
    assert _enhance(mpath, f"scp:{tmp / 'in.scp'}", f"ark,scp:{tmp / 'o.ark'},{tmp / 'o.scp'}") == 0
    out = read_embeddings(f"scp:{tmp / 'o.scp'}")
    assert list(out) == list(inp)
    for k, v in inp.items():
        assert out[k].shape == v.shape
        assert not np.allclose(out[k], v)
    # each row is enhanced on its own with the noise of (seed, key, row)
    x = torch.from_numpy(inp["m0"])
    ref = model.enhance(x, keyed_noise(0, "m0", 3, D), t_star=50, steps=1).numpy()
    np.testing.assert_allclose(out["m0"], ref, rtol=1e-5, atol=1e-6)
    vec = model.enhance(torch.from_numpy(inp["u05"])[None], keyed_noise(0, "u05", 1, D))
    np.testing.assert_allclose(out["u05"], vec[0].numpy(), rtol=1e-5, atol=1e-6)


def test_seed_determinism_and_batch_size(setup):
    _, mpath, inp, tmp = setup
    runs = {}
    for name, extra in [("a", ["--seed", 7]), ("b", ["--seed", 7]), ("c", ["--seed", 8]),
                        ("bs1", ["--seed", 7, "--batch-size", 1]),
                        ("bs4", ["--seed", 7, "--batch-size", 4])]:
        assert _enhance(*extra, mpath, f"scp:{tmp / 'in.scp'}", f"ark:{tmp / name}.ark") == 0
        runs[name] = (tmp / f"{name}.ark").read_bytes()
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    a = read_embeddings(f"ark:{tmp / 'a.ark'}")
    for other in ("bs1", "bs4"):
        o = read_embeddings(f"ark:{tmp / other}.ark")
        for k in a:
            np.testing.assert_allclose(o[k], a[k], rtol=1e-5, atol=1e-6)
    # a key's output does not depend on the other keys in the archive
    write_embeddings(f"ark:{tmp / 'sub.ark'}", [("u05", inp["u05"]), ("m0", inp["m0"])])
    assert _enhance("--seed", 7, mpath, f"ark:{tmp / 'sub.ark'}", f"ark:{tmp / 'sub_o.ark'}") == 0
    sub = read_embeddings(f"ark:{tmp / 'sub_o.ark'}")
    for k in sub:
        np.testing.assert_allclose(sub[k], a[k], rtol=1e-5, atol=1e-6)


def test_noise_archive(setup, capsys):
    model, mpath, inp, tmp = setup
    rng = np.random.default_rng(5)
    eps = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in inp.items()}
    write_embeddings(f"ark:{tmp / 'eps.ark'}", eps.items())
    assert _enhance("--noise", f"ark:{tmp / 'eps.ark'}", mpath, f"scp:{tmp / 'in.scp'}",
                    f"ark:{tmp / 'o.ark'}") == 0
    out = read_embeddings(f"ark:{tmp / 'o.ark'}")
    for k, v in inp.items():
        x = torch.from_numpy(v).reshape(-1, D)
        ref = model.enhance(x, torch.from_numpy(eps[k]).reshape(-1, D)).numpy().reshape(v.shape)
        np.testing.assert_allclose(out[k], ref, rtol=1e-5, atol=1e-6)
    # missing key / wrong shape
    write_embeddings(f"ark:{tmp / 'eps2.ark'}", [(k, e) for k, e in eps.items() if k != "m0"])
    capsys.readouterr()
    assert _enhance("--noise", f"ark:{tmp / 'eps2.ark'}", mpath, f"scp:{tmp / 'in.scp'}",
                    f"ark:{tmp / 'o2.ark'}") == 1
    assert "no epsilon for 'm0'" in capsys.readouterr().err
    assert not (tmp / "o2.ark").exists()
    eps["u01"] = np.zeros(D + 1, np.float32)
    write_embeddings(f"ark:{tmp / 'eps3.ark'}", eps.items())
    assert _enhance("--noise", f"ark:{tmp / 'eps3.ark'}", mpath, f"scp:{tmp / 'in.scp'}",
                    f"ark:{tmp / 'o3.ark'}") == 1
    assert "epsilon for 'u01' has shape (13,)" in capsys.readouterr().err


def test_dimension_checked(setup, capsys):
    _, mpath, _, tmp = setup
    write_embeddings(f"ark:{tmp / 'bad.ark'}", [("ok", np.zeros(D)), ("wide", np.zeros(D + 4))])
    assert _enhance(mpath, f"ark:{tmp / 'bad.ark'}", f"ark:{tmp / 'o.ark'}") == 1
    err = capsys.readouterr().err
    assert "'wide' has dimension 16 but the model expects 12" in err
    assert not (tmp / "o.ark").exists()


def test_pipes_in_process(setup, monkeypatch):
    _, mpath, inp, tmp = setup
    data = (tmp / "in.ark").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out_buf = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out_buf))
    assert _enhance(mpath, "ark:-", "ark:-") == 0
    sys.stdout.flush()
    (tmp / "piped.ark").write_bytes(out_buf.getvalue())
    monkeypatch.undo()
    assert _enhance(mpath, f"ark:{tmp / 'in.ark'}", f"ark:{tmp / 'file.ark'}") == 0
    assert (tmp / "piped.ark").read_bytes() == (tmp / "file.ark").read_bytes()


@pytest.mark.slow  # a separate process importing torch: 5-20 s on 2 shared cores
def test_pipe_between_processes(setup):
    _, mpath, _, tmp = setup
    exe = Path(sys.executable).parent / "seedkit-enhance"
    cmd = (f"cat {tmp / 'in.ark'} | {exe} {mpath} ark:- ark:- > {tmp / 'p.ark'}")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert _enhance(mpath, f"ark:{tmp / 'in.ark'}", f"ark:{tmp / 'f.ark'}") == 0
    assert (tmp / "p.ark").read_bytes() == (tmp / "f.ark").read_bytes()


def test_official_state_dict_reproduces_reference(tmp_path, capsys):
    """The CLI on an official bare state dict (D256; D512 loads the same way in
    test_seed_reference.py) with the stored epsilon gives the original's enhanced vectors."""
    entry = load_reference("rdm_mlp.json")["entries"]["D256"]
    o = entry["one_step"]
    bare = tmp_path / "official.model"
    torch.save(mw.state_dict_from_spec(entry["state_dict"]), bare)
    keys = [f"e{i}" for i in range(4)]
    write_embeddings(f"ark:{tmp_path / 'e.ark'}", zip(keys, np.asarray(o["embeddings"])))
    write_embeddings(f"ark:{tmp_path / 'eps.ark'}", zip(keys, np.asarray(o["epsilon"])))
    args = ["--noise", f"ark:{tmp_path / 'eps.ark'}", f"ark:{tmp_path / 'e.ark'}"]
    assert _enhance("--config", VOX_CONF, bare, *args, f"ark:{tmp_path / 'o.ark'}") == 0
    out = read_embeddings(f"ark:{tmp_path / 'o.ark'}")
    got = np.stack([out[k] for k in keys])
    np.testing.assert_allclose(got, np.asarray(o["expected_enhanced"], np.float32),
                               rtol=1e-4, atol=1e-5)
    # a DataParallel-style prefix is stripped
    torch.save(mw.state_dict_from_spec(entry["state_dict"], prefix="module."),
               tmp_path / "prefixed.model")
    assert _enhance("--config", VOX_CONF, tmp_path / "prefixed.model", *args,
                    f"ark:{tmp_path / 'o2.ark'}") == 0
    assert (tmp_path / "o2.ark").read_bytes() == (tmp_path / "o.ark").read_bytes()
    # without --config: refused, saying what to pass
    capsys.readouterr()
    assert _enhance(bare, *args, f"ark:{tmp_path / 'o3.ark'}") == 1
    assert "pass --config" in capsys.readouterr().err


def test_official_checkpoint_dims_must_match_config(tmp_path, capsys):
    entry = load_reference("rdm_mlp.json")["entries"]["D256"]
    torch.save(mw.state_dict_from_spec(entry["state_dict"]),
               tmp_path / "m.model")
    conf = tmp_path / "c.yaml"
    conf.write_text("embed_dim: 512\n")
    write_embeddings(f"ark:{tmp_path / 'e.ark'}", [("a", np.zeros(256))])
    assert _enhance("--config", conf, tmp_path / "m.model", f"ark:{tmp_path / 'e.ark'}",
                    f"ark:{tmp_path / 'o.ark'}") == 1
    err = capsys.readouterr().err
    assert "shape" in err and "embed_dim" in err


def test_not_a_seed_checkpoint(tmp_path, capsys):
    write_embeddings(f"ark:{tmp_path / 'e.ark'}", [("a", np.zeros(D))])
    cases = {
        "text.pt": lambda p: p.write_text("hello\n"),
        "other.pt": lambda p: torch.save({"conv1.weight": torch.zeros(3, 3)}, p),
        "list.pt": lambda p: torch.save([1, 2, 3], p),
        "code.pt": lambda p: torch.save({"x": Path("/")}, p),  # refused by weights_only
    }
    for name, make in cases.items():
        make(tmp_path / name)
        assert _enhance(tmp_path / name, f"ark:{tmp_path / 'e.ark'}",
                        f"ark:{tmp_path / 'o.ark'}") == 1, name
        err = capsys.readouterr().err
        assert "not a SEED checkpoint" in err, (name, err)
        assert str(tmp_path / name) in err
    assert _enhance(tmp_path / "missing.pt", f"ark:{tmp_path / 'e.ark'}",
                    f"ark:{tmp_path / 'o.ark'}") == 1
    assert "model file not found" in capsys.readouterr().err


def test_ddim_t_star_and_regression(setup):
    model, mpath, inp, tmp = setup
    outs = {}
    for name, extra in [("one", []), ("t100", ["--t-star", 100]), ("ddim", ["--steps", 5])]:
        assert _enhance(*extra, mpath, f"scp:{tmp / 'in.scp'}", f"ark:{tmp / name}.ark") == 0
        outs[name] = read_embeddings(f"ark:{tmp / name}.ark")
    assert not np.allclose(outs["one"]["u00"], outs["t100"]["u00"])
    assert not np.allclose(outs["one"]["u00"], outs["ddim"]["u00"])
    # DDIM (leading spacing over T, starting at 800 for 5 steps) by hand
    x = torch.from_numpy(inp["u00"])[None]
    xs = model.normalize(x)
    eps = keyed_noise(0, "u00", 1, D)
    ts = model.schedule.ddim_timesteps(5)
    assert ts == [800, 600, 400, 200, 0]
    cur = model.schedule.add_noise(xs, eps, torch.tensor(800))
    for t in ts:
        cur, _ = model.schedule.ddim_step(model.net(cur, t), t, cur, t - 200, model.clip_range)
    np.testing.assert_allclose(outs["ddim"]["u00"], cur[0].detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    reg = _save_model(_random_model("regression"), tmp / "reg.pt")
    assert _enhance("--seed", 1, reg, f"scp:{tmp / 'in.scp'}", f"ark:{tmp / 'r1.ark'}") == 0
    assert _enhance("--seed", 2, reg, f"scp:{tmp / 'in.scp'}", f"ark:{tmp / 'r2.ark'}") == 0
    assert (tmp / "r1.ark").read_bytes() == (tmp / "r2.ark").read_bytes()  # no noise at all


def test_seedkit_checkpoint_with_config_overrides_sampling(setup, tmp_path):
    model, mpath, _, tmp = setup
    conf = tmp_path / "s.yaml"
    conf.write_text("t_star: 100\n")
    m2, cfg = load_model(mpath, conf)
    assert cfg["t_star"] == 100 and cfg["embed_dim"] == D
    conf.write_text("embed_dim: 64\n")
    with pytest.raises(SeedkitError, match=re.escape(
            "--config sets embed_dim=64 but the checkpoint has 12; drop the key or use the "
            "matching config")) as ei:
        load_model(mpath, conf)
    assert ei.value.path == str(conf)  # the error names the config file


def test_feature_ensemble(setup):
    model, mpath, inp, tmp = setup
    assert _enhance(mpath, f"scp:{tmp / 'in.scp'}", f"ark:{tmp / 'plain.ark'}") == 0
    assert _enhance("--feature-ensemble", 0.5, mpath, f"scp:{tmp / 'in.scp'}",
                    f"ark:{tmp / 'ens.ark'}") == 0
    plain = read_embeddings(f"ark:{tmp / 'plain.ark'}")
    ens = read_embeddings(f"ark:{tmp / 'ens.ark'}")
    for k, v in inp.items():
        x = model.normalize(torch.from_numpy(v)).numpy()
        np.testing.assert_allclose(ens[k], plain[k] + 0.5 * x, rtol=1e-5, atol=1e-5)


def test_device_option(setup, capsys):
    _, mpath, _, tmp = setup
    assert _enhance("--device", "auto", mpath, f"scp:{tmp / 'in.scp'}",
                    f"ark:{tmp / 'a.ark'}") == 0
    assert _enhance("--device", "tpu9", mpath, f"scp:{tmp / 'in.scp'}",
                    f"ark:{tmp / 'b.ark'}") == 1
    assert "unknown --device 'tpu9'" in capsys.readouterr().err


def _keyed_noise_definition(seed: int, key: str, rows: int, dim: int) -> torch.Tensor:
    """The documented draw, one generator per row: torch.randn(dim) after
    manual_seed(row_seed(seed, key, row))."""
    from seedkit.seed.enhance import row_seed

    out = []
    for r in range(rows):
        g = torch.Generator().manual_seed(row_seed(seed, key, r))
        out.append(torch.randn(dim, generator=g))
    return torch.stack(out) if out else torch.empty(0, dim)


@pytest.mark.parametrize("dim", [7, 16, 256])
def test_bulk_keyed_noise_is_bit_identical_to_per_row_draws(dim):
    from seedkit.seed.enhance import keyed_noise_rows

    entries = [("u00", 1), ("spk1-utt/ü", 3), ("u00", 2), ("m9", 0), ("x", 1)]
    bulk = keyed_noise_rows(5, entries, dim)
    ref = torch.cat([_keyed_noise_definition(5, k, n, dim) for k, n in entries])
    assert bulk.dtype == torch.float32 and bulk.shape == (7, dim)
    assert torch.equal(bulk, ref)
    assert torch.equal(keyed_noise(5, "spk1-utt/ü", 3, dim), ref[1:4])
    assert not torch.equal(bulk[0], bulk[1]) and torch.equal(bulk[0], bulk[4])  # u00 row 0 twice


def test_enhancer_batches_use_the_keyed_noise_of_each_key():
    from seedkit.seed.enhance import RowEnhancer

    model = _random_model()
    rng = np.random.default_rng(3)
    items = [("a", rng.normal(size=D).astype(np.float32)),
             ("b", rng.normal(size=(3, D)).astype(np.float32)),
             ("c", rng.normal(size=D).astype(np.float32))]
    got = dict(RowEnhancer(model, seed=11, batch_size=4).stream(items))
    for key, arr in items:
        x = torch.from_numpy(arr).reshape(-1, D)
        with torch.no_grad():
            ref = model.enhance(x, _keyed_noise_definition(11, key, x.shape[0], D),
                                t_star=model.cfg["t_star"], steps=model.cfg["sample_steps"])
        # batching may change the last bits of the matmuls, never the noise
        np.testing.assert_allclose(got[key], ref.numpy().reshape(arr.shape), rtol=0, atol=1e-5)
