"""seedkit-train-seed: exp-dir layout, learning on the synthetic testbed, SIGKILL + resume
bitwise, regression objective, dev-EER selection and the refusals of bad input."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import seedkit.bin.train_seed as train_seed_bin
from seedkit.embio import read_embeddings, write_embeddings
from seedkit.errors import SeedkitError, run_main
from seedkit.scoring.cosine import cosine_scores
from seedkit.scoring.metrics import compute_eer
from seedkit.seed.checkpoint import load_model, read_checkpoint
from seedkit.seed.config import merge_config
from seedkit.seed.data import load_pairs
from seedkit.seed.enhance import RowEnhancer
from seedkit.seed.synthetic import SyntheticSpec, make_testbed, write_testbed
from seedkit.seed.train import STEP_SLEEP_ENV, train_seed

TINY = {"model_channels": 32, "num_res_blocks": 2, "batch_size": 32, "epochs": 3,
        "checkpoint_interval": 7, "log_interval": 5, "lr": 2e-3}
SMALL_SPEC = SyntheticSpec(dim=16, speaker_rank=4, train_speakers=16, train_utts=4,
                         eval_speakers=8, eval_utts=3, seed=3)


@pytest.fixture(autouse=True)
def one_thread():
    """The machine is shared: one intra-op thread keeps timings sane (and results stable).
    Also drops the log handlers the bin's setup_logging installed on captured streams."""
    n = torch.get_num_threads()
    root = logging.getLogger()
    handlers = list(root.handlers)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("tb")
    tb = make_testbed(SMALL_SPEC)
    paths = write_testbed(tb, out)
    conf = out / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    paths["conf"] = str(conf)
    paths["dir"] = str(out)
    return tb, paths


def _args(paths, exp, *extra):
    return ["--config", paths["conf"], "--clean", "scp:" + paths["clean"],
            "--noisy", "scp:" + paths["noisy"], "--pairs", paths["pairs"], *extra, str(exp)]


def _cli(paths, exp, *extra):
    """The command line of a separate process (for the SIGKILL test)."""
    return [sys.executable, "-m", "seedkit.bin.train_seed", *_args(paths, exp, *extra)]


def _main(paths, exp, *extra) -> int:
    """Run the command-line entry point in this process (importing torch once is slow)."""
    return run_main(train_seed_bin.main, "seedkit-train-seed",
                    _args(paths, exp, "--device", "cpu", *extra))


def _env(**kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update({k: str(v) for k, v in kw.items()})
    return env


def _final_weights(exp: Path) -> dict:
    obj = read_checkpoint(exp / "final.pt")
    return obj["model"]


def test_cli_run_layout_and_log(small, tmp_path, capsys):
    _, paths = small
    exp = tmp_path / "exp"
    assert _main(paths, exp, "--epochs", "2", "--set", "ema_decay=0.9", "--seed", "5") == 0
    cfg = yaml.safe_load((exp / "config.yaml").read_text())
    assert cfg["epochs"] == 2 and cfg["ema_decay"] == 0.9 and cfg["seed"] == 5
    assert cfg["embed_dim"] == 16 and cfg["model_channels"] == 32  # resolved from the data
    log = (exp / "log" / "train.log").read_text()
    assert "pairs/s" in log and "192 listed + 64 clean identity" in log
    assert list((exp / "checkpoints").glob("ckpt-*.pt"))
    final = read_checkpoint(exp / "final.pt")
    assert final["format"] == "seedkit-seed" and final["selected_by"] == "last"
    # final.pt holds the EMA weights when EMA is on
    last = read_checkpoint(sorted((exp / "checkpoints").glob("ckpt-*.pt"))[-1])
    for k, v in final["model"].items():
        assert torch.equal(v, last["ema"][k])
    # fresh start into a dir with checkpoints is refused
    capsys.readouterr()
    assert _main(paths, exp, "--epochs", "2") == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR (seedkit-train-seed)") and "--resume" in err
    # unknown option / config key
    # not a config key: argparse refuses it (usage error, status 2)
    assert _main(paths, tmp_path / "e2", "--learning-rate", "1") == 2
    assert "unrecognized arguments: --learning-rate" in capsys.readouterr().err
    assert _main(paths, tmp_path / "e3", "--lr", "fast") == 1
    assert "lr must be a number" in capsys.readouterr().err


def test_training_reduces_eer_on_testbed(tmp_path):
    tb = make_testbed(SyntheticSpec())  # D=64, held-out eval environments
    paths = write_testbed(tb, tmp_path / "tb")
    cfg = merge_config({"model_channels": 64, "batch_size": 128, "epochs": 10, "lr": 2e-3,
                        "checkpoint_interval": 10000, "log_interval": 1000})
    train_seed(cfg, "scp:" + paths["clean"], "scp:" + paths["noisy"], paths["pairs"],
               str(tmp_path / "exp"), device="cpu")
    model, _ = load_model(tmp_path / "exp" / "final.pt")
    labels = np.array([t.target for t in tb.trials])
    enh = RowEnhancer(model, seed=0)
    eer = {}
    for name, emb in tb.eval_sets.items():
        raw = compute_eer(cosine_scores(tb.trials, emb, emb), labels)
        out = enh.enhance_dict(emb)
        eer[name] = (raw, compute_eer(cosine_scores(tb.trials, out, out), labels))
    raw, enhanced = eer["noisy"]
    assert enhanced < 0.75 * raw, eer  # measured: 16.5% -> 9.8%
    assert eer["clean"][1] <= eer["clean"][0] * 1.05 + 0.5, eer


@pytest.mark.slow  # a separate process (torch import) plus two runs: 10-25 s on 2 shared cores
def test_sigkill_and_resume_is_bitwise_identical(small, tmp_path):
    _, paths = small
    extra = ["--epochs", "6", "--set", "dropout=0.1", "--set", "ema_decay=0.9"]
    ref_exp, exp = tmp_path / "ref", tmp_path / "killed"
    proc = subprocess.Popen(_cli(paths, exp, *extra), env=_env(**{STEP_SLEEP_ENV: 0.05}),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ckpts = exp / "checkpoints"
        deadline = time.monotonic() + 120
        # kill once the second step checkpoint (step 14, mid-epoch 2) is in place
        while time.monotonic() < deadline:
            if (ckpts / "ckpt-000000014.pt").exists():
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.01)
        else:
            pytest.fail("no checkpoint appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (exp / "final.pt").exists()
    assert _main(paths, ref_exp, *extra) == 0  # the uninterrupted reference run
    assert _main(paths, exp, *extra, "--resume") == 0
    log = (exp / "log" / "train.log").read_text()
    resumed = [line for line in log.splitlines() if "resumed from" in line]
    assert resumed and "step 0," not in resumed[-1]
    a, b = _final_weights(ref_exp), _final_weights(exp)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_with_other_config_is_refused(small, tmp_path, capsys):
    _, paths = small
    exp = tmp_path / "exp"
    assert _main(paths, exp, "--epochs", "1") == 0
    capsys.readouterr()
    assert _main(paths, exp, "--epochs", "2", "--resume", "--lr", "0.01",
                 "--num-res-blocks", "3") == 1
    err = capsys.readouterr().err
    assert "lr: 0.002 in checkpoint, 0.01 now" in err
    assert "num_res_blocks: 2 in checkpoint, 3 now" in err
    assert "2 key(s)" in err  # epochs may change on resume; it is not listed
    # longer training with the same config resumes fine
    assert _main(paths, exp, "--epochs", "2", "--resume") == 0


def test_regression_objective_and_dev_selection(small, tmp_path):
    tb, paths = small
    ev = Path(paths["dir"])
    exp = tmp_path / "exp"
    # 256 pairs / 32 per step = 8 steps per epoch: a checkpoint at the end of every epoch
    cfg = merge_config({**TINY, "objective": "regression", "select": "best_dev_eer",
                        "epochs": 3, "checkpoint_interval": 8, "keep_checkpoints": 3})
    train_seed(cfg, "scp:" + paths["clean"], "scp:" + paths["noisy"], paths["pairs"], str(exp),
               device="cpu", dev_trials=paths["trials"],
               dev_enroll="scp:" + str(ev / "eval_noisy.scp"))
    final = read_checkpoint(exp / "final.pt")
    hist = final["dev_history"]
    assert [(h["epoch"], h["step"]) for h in hist] == [(0, 8), (1, 16), (2, 24)]
    assert final["selected_by"] == "best_dev_eer"
    assert final["baseline_dev_eer"] is not None
    # recompute each epoch's dev EER from its checkpoint: enhance, cosine in numpy, EER
    dev = read_embeddings("scp:" + str(ev / "eval_noisy.scp"))
    trials = [ln.split() for ln in Path(paths["trials"]).read_text().splitlines()]
    lab = np.array([t[2] == "target" for t in trials])
    eers = []
    for h in hist:
        m, _ = load_model(exp / "checkpoints" / f"ckpt-{h['step']:09d}.pt")
        with torch.no_grad():
            out = m.enhance(torch.tensor(np.stack(list(dev.values())))).double().numpy()
        unit = {k: v / np.linalg.norm(v) for k, v in zip(dev, out)}
        scores = np.array([unit[e] @ unit[t] for e, t, _ in trials])
        eers.append(compute_eer(scores, lab))
    np.testing.assert_allclose([h["eer"] for h in hist], eers, rtol=0, atol=1e-9)
    best = int(np.argmin(eers))  # the first of equal minima: an EER must improve to count
    assert final["dev_eer"] == hist[best]["eer"] == min(eers)
    assert (final["epoch"], final["step"]) == (best, hist[best]["step"])
    # final.pt holds that epoch's weights, bit for bit (and no other epoch's)
    for h in hist:
        ckpt = read_checkpoint(exp / "checkpoints" / f"ckpt-{h['step']:09d}.pt")["model"]
        same = all(torch.equal(final["model"][k], ckpt[k]) for k in ckpt)
        assert same == (h["epoch"] == best) and final["model"].keys() == ckpt.keys()
    log = (exp / "log" / "train.log").read_text()
    assert "dev EER" in log
    model, cfg2 = load_model(exp / "final.pt")
    assert cfg2["objective"] == "regression"
    # regression enhancement is deterministic and needs no noise
    x = torch.randn(4, 16)
    torch.testing.assert_close(model.enhance(x), model.enhance(x), rtol=0, atol=0)
    with pytest.raises(SeedkitError, match="best_dev_eer needs --dev-trials"):
        train_seed(merge_config({**TINY, "select": "best_dev_eer"}), "scp:" + paths["clean"],
                   "scp:" + paths["noisy"], paths["pairs"], str(tmp_path / "x"), device="cpu")


# ----------------------------------------------------------------------------- bad input
def _write(tmp: Path, name: str, items) -> str:
    write_embeddings(f"ark,scp:{tmp / (name + '.ark')},{tmp / (name + '.scp')}", items)
    return "scp:" + str(tmp / (name + ".scp"))


def _run(tmp: Path, clean, noisy, pairs_lines, cfg=None):
    pairs = tmp / "utt2clean"
    pairs.write_text("".join(f"{line}\n" for line in pairs_lines))
    return train_seed(merge_config(TINY, cfg), clean, noisy, str(pairs), str(tmp / "exp"),
                      device="cpu")


@pytest.fixture
def vecs(tmp_path):
    rng = np.random.default_rng(0)
    clean = _write(tmp_path, "clean", [(f"c{i}", rng.standard_normal(8)) for i in range(4)])
    noisy = _write(tmp_path, "noisy", [(f"n{i}", rng.standard_normal(8)) for i in range(4)])
    return clean, noisy


def test_unknown_utterances_counted_and_listed(tmp_path, vecs):
    clean, noisy = vecs
    lines = ["n0 c0", "n1 cX", "nY c1", "n2 c2", "nZ cQ", "a b", "c d", "e f", "g h"]
    with pytest.raises(SeedkitError) as ei:
        _run(tmp_path, clean, noisy, lines)
    msg = str(ei.value)
    assert "7 pair line(s)" in msg and "first 5" in msg
    assert "line 2: 'cX' not in --clean" in msg
    assert "line 3: 'nY' not in --noisy or --clean" in msg
    assert "utt2clean" in msg


def test_dimension_mismatch(tmp_path):
    clean = _write(tmp_path, "clean", [("c0", np.zeros(8)), ("c1", np.ones(8))])
    noisy = _write(tmp_path, "noisy", [("n0", np.zeros(6))])
    with pytest.raises(SeedkitError, match="dimension 6 but clean ones have 8"):
        _run(tmp_path, clean, noisy, ["n0 c0"])
    mixed = _write(tmp_path, "mixed", [("c0", np.zeros(8)), ("c1", np.ones(7))])
    with pytest.raises(SeedkitError, match="'c1' has dimension 7"):
        _run(tmp_path, mixed, noisy, ["c1 c0"])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_embedding_refused_with_key(tmp_path, bad):
    v = np.ones(8)
    v[3] = bad
    clean = _write(tmp_path, "clean", [("c0", np.zeros(8)), ("c1", np.ones(8))])
    noisy = _write(tmp_path, "noisy", [("n0", np.zeros(8)), ("n-bad", v)])
    with pytest.raises(SeedkitError, match="'n-bad' contains NaN or inf"):
        _run(tmp_path, clean, noisy, ["n0 c0"])


def test_empty_pair_list(tmp_path, vecs):
    clean, noisy = vecs
    with pytest.raises(SeedkitError, match="pair list is empty"):
        _run(tmp_path, clean, noisy, [])


def test_duplicate_pair_line_and_matrix_refused(tmp_path, vecs):
    clean, noisy = vecs
    with pytest.raises(SeedkitError, match="maps to 'c1' here but to 'c0' on line 1"):
        _run(tmp_path, clean, noisy, ["n0 c0", "n0 c1"])
    mats = _write(tmp_path, "mats", [("n0", np.zeros((3, 8)))])
    with pytest.raises(SeedkitError, match="is a matrix"):
        _run(tmp_path, clean, mats, ["n0 c0"])


def test_identity_pairs(tmp_path, vecs):
    clean, noisy = vecs
    pairs = tmp_path / "p"
    pairs.write_text("n0 c0\nn1 c0\nc1 c1\nn2 c1\n")
    ps = load_pairs(clean, noisy, pairs, add_identity=True)
    assert ps.num_listed == 4 and ps.num_identity == 1  # c0 c0 added; c1 c1 listed already
    names = [(ps.names[s], ps.names[t]) for s, t in zip(ps.src, ps.tgt)]
    assert names[2] == ("clean:c1", "clean:c1") and names[-1] == ("clean:c0", "clean:c0")
    assert load_pairs(clean, noisy, pairs, add_identity=False).num_identity == 0
    # identity lines repeated (as `cat identity utt2clean` makes) and found in --noisy
    noisy2 = _write(tmp_path, "noisy2", [("n0", np.zeros(8)), ("c0", np.ones(8))])
    pairs.write_text("c0 c0\nn0 c0\nc0 c0\n")
    ps = load_pairs(clean, noisy2, pairs, add_identity=True)
    assert (ps.num_listed, ps.num_identity, len(ps)) == (2, 0, 2)


def test_dev_scoring_does_not_change_training(small, tmp_path):
    """With dropout on, a run with per-epoch dev scoring ends with the same weights as one
    without (the dev pass draws from its own generators)."""
    _, paths = small
    cfg = merge_config({**TINY, "dropout": 0.2, "epochs": 2})
    args = ("scp:" + paths["clean"], "scp:" + paths["noisy"], paths["pairs"])
    train_seed(cfg, *args, str(tmp_path / "a"), device="cpu")
    train_seed(cfg, *args, str(tmp_path / "b"), device="cpu", dev_trials=paths["trials"],
               dev_enroll="scp:" + str(Path(paths["dir"]) / "eval_noisy.scp"))
    a, b = _final_weights(tmp_path / "a"), _final_weights(tmp_path / "b")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert len(read_checkpoint(tmp_path / "b" / "final.pt")["dev_history"]) == 2
