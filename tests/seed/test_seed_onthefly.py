"""seedkit-train-seed --on-the-fly: the frozen backbone in the training loop. A tiny synthetic
clean/MUSAN/RIR corpus and the tiny random-weight ECAPA conf: it trains and writes final.pt,
every draw is fresh, the pairs are the renderer's, a resumed run equals an uninterrupted one,
2 torchrun/gloo ranks give the weights of 1 process, and bad options are one ERROR line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from augment_inputs import inputs  # noqa: F401  (fixture: small clean/MUSAN/RIR data dirs)
from test_seed_train import one_thread  # noqa: F401  (fixture: one thread, log handlers)

import seedkit.bin.train_seed as train_seed_bin
from seedkit.errors import run_main
from seedkit.extract import build_embedder
from seedkit.models.config import load_backbone_config
from seedkit.render import Renderer
from seedkit.rng import mix_seed
from seedkit.seed.checkpoint import read_checkpoint
from seedkit.seed.config import merge_config
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.distributed import DistInfo
from seedkit.seed.onthefly import OnTheFlyOptions, OnTheFlyPairs
from seedkit.seed.sampling import pair_noise

REPO = Path(__file__).resolve().parents[2]
TINY_ECAPA = REPO / "egs/mini/seed/conf/test_tiny_ecapa.yaml"
# 8 pairs per step = 2 utterance draws x (clean, music, noise, reverb); 3 steps per epoch
TINY = {"model_channels": 16, "num_res_blocks": 1, "batch_size": 8, "epochs": 2,
        "checkpoint_interval": 2, "log_interval": 1, "lr": 2e-3, "dropout": 0.0,
        "ema_decay": 0.0, "seed": 3}


@pytest.fixture(scope="module")
def corpus(request, tmp_path_factory):
    """test_augment's clean (6 utterances of 1.3-3.1 s, 2 speakers), MUSAN and RIR data dirs,
    and a tiny SEED conf."""
    data = request.getfixturevalue("inputs")
    conf = tmp_path_factory.mktemp("otf") / "seed.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    return {"train": str(data / "clean"), "musan": str(data / "musan"),
            "rirs": str(data / "rirs"), "conf": str(conf)}


def _otf_args(c, *extra) -> list[str]:
    return ["--config", c["conf"], "--on-the-fly", "--train-data", c["train"], "--musan",
            c["musan"], "--rirs", c["rirs"], "--backbone-config", str(TINY_ECAPA),
            "--allow-random-backbone", "--crop-sec", "0.5", "--device", "cpu", *extra]


def _main(argv) -> int:
    return run_main(train_seed_bin.main, "seedkit-train-seed", [str(a) for a in argv])


def _one_error(err: str) -> str:
    """The one ERROR line of stderr (a random-weight backbone also warns on its own line)."""
    lines = [ln for ln in err.splitlines() if not ln.startswith("WARNING")]
    assert len(lines) == 1 and lines[0].startswith("ERROR (seedkit-train-seed)"), err
    return lines[0]


def _weights(exp: Path) -> dict:
    return read_checkpoint(exp / "final.pt")["model"]


def _source(c, render_threads: int = 1, **cfg) -> OnTheFlyPairs:
    opts = OnTheFlyOptions(c["train"], c["musan"], c["rirs"], str(TINY_ECAPA),
                           allow_random_backbone=True, crop_sec=0.5,
                           render_threads=render_threads)
    return OnTheFlyPairs(opts, merge_config(TINY, cfg), DistInfo())


# ------------------------------------------------------------------------------- the draws
def test_every_draw_is_fresh_and_shares_its_crop(corpus):
    src = _source(corpus)
    spe, split = src.layout(8, 1)
    assert spe == 3 and split == "2 utterance draws, 2 per process"
    seen_rounds, seen_crops = set(), set()
    utts_per_pass: list[str] = []
    for g in range(9):  # 3 passes over the 6 utterances
        for _, utt, k in src.draws(g, 0, 1, 8):
            assert k not in seen_rounds
            seen_rounds.add(k)
            utts_per_pass.append(utt)
            entries = src.planner.plan(utt, k)
            assert [e.kind for e in entries] == ["clean", "music", "noise", "reverb"]
            assert len({(e.clean, e.start, e.length) for e in entries}) == 1  # one crop
            crop = (utt, entries[0].start, entries[1].source, entries[1].source_start,
                    entries[1].snr, entries[2].snr, entries[3].source)
            assert crop not in seen_crops
            seen_crops.add(crop)
    # every pass draws each utterance once, in its own order
    passes = [utts_per_pass[i:i + 6] for i in range(0, 18, 6)]
    assert all(sorted(p) == src.utts for p in passes)
    assert len({tuple(p) for p in passes}) > 1
    # the crop starts vary from draw to draw (utterances are longer than the 0.5 s crop)
    starts = {}
    for crop in seen_crops:
        starts.setdefault(crop[0], set()).add(crop[1])
    assert all(len(s) == 3 for s in starts.values())
    # two ranks together draw exactly what one process draws
    for g in range(4):
        one = src.draws(g, 0, 1, 8)
        two = sorted(src.draws(g, 0, 2, 8) + src.draws(g, 1, 2, 8))
        assert one == two


def test_batch_is_the_rendered_and_embedded_pairs(corpus):
    src = _source(corpus)
    b = src.batch(1, 2, 0, 1, 8)  # epoch 1, step 2: global step 5
    assert b.x_start.shape == (8, 24) and b.scale == 1.0 and b.step_pairs == 8
    assert b.positions.tolist() == list(range(16, 24))
    bcfg = load_backbone_config(TINY_ECAPA)
    emb = build_embedder(bcfg, None, "cpu", True)
    rend = Renderer(corpus["train"], corpus["musan"], corpus["rirs"])
    for d, (_, utt, k) in enumerate(src.draws(5, 0, 1, 8)):
        waves = [rend.render(e) for e in src.planner.plan(utt, k)]
        want = torch.from_numpy(emb.embed(np.stack(waves)))
        torch.testing.assert_close(b.x_start[4 * d:4 * d + 4], want, rtol=0, atol=1e-5)
        for j in range(4):  # every pair's target is the draw's clean crop
            torch.testing.assert_close(b.x_target[4 * d + j], want[0], rtol=0, atol=1e-5)
    assert set(src.timers()) == {"render", "embed"} and src.timers()["embed"] > 0
    # rendered ahead in 3 threads (next step while this one trains) or in the loop: same pairs
    for threads in (3, 0):
        other = _source(corpus, render_threads=threads)
        for epoch, step in ((1, 1), (1, 2), (0, 0)):
            b2 = other.batch(epoch, step, 0, 1, 8)
            if (epoch, step) == (1, 2):
                assert torch.equal(b2.x_start, b.x_start) and torch.equal(b2.x_target, b.x_target)
        other.close()
    # without identity pairs: 3 pairs per draw, no clean -> clean
    src3 = _source(corpus, add_identity_pairs=False, batch_size=6)
    b3 = src3.batch(0, 0, 0, 1, 6)
    assert b3.x_start.shape == (6, 24)
    assert not torch.allclose(b3.x_start[0], b3.x_target[0])
    # pair noise is a function of (seed, epoch, position): the trainer draws it from positions
    t, _ = pair_noise(3, 1, b.positions, 24, 1000)
    assert torch.equal(t, pair_noise(3, 1, torch.arange(16, 24), 24, 1000)[0])


# ------------------------------------------------------------------------------- training
def test_trains_writes_final_and_resume_equals_uninterrupted(corpus, tmp_path):
    ref, exp = tmp_path / "ref", tmp_path / "exp"
    assert _main(_otf_args(corpus, ref)) == 0
    final = read_checkpoint(ref / "final.pt")
    assert final["step"] == 6 and final["selected_by"] == "last"
    log = (ref / "log" / "train.log").read_text()
    assert "pairs drawn on the fly from 6 utterances" in log
    assert "3 step(s) per epoch of 8 pairs/step (2 utterance draws, 2 per process)" in log
    assert "pairs/s" in log and "render" in log and "embed" in log and "net" in log
    cfg = yaml.safe_load((ref / "config.yaml").read_text())
    assert cfg["embed_dim"] == 24  # from the backbone
    # the weights moved
    torch.manual_seed(mix_seed(3, 0))
    init = SeedDiffusion(final["config"]).net.state_dict()
    assert max(float((final["model"][k] - init[k]).abs().max()) for k in init) > 1e-3
    # "interrupted" after epoch 0 (max_steps 3, a checkpoint there), then resumed to the end
    assert _main(_otf_args(corpus, exp, "--max-steps", "3")) == 0
    assert read_checkpoint(exp / "final.pt")["step"] == 3
    assert _main(_otf_args(corpus, exp, "--resume")) == 0
    assert "resumed from" in (exp / "log" / "train.log").read_text()
    a, b = _weights(ref), _weights(exp)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_on_other_data_is_refused(corpus, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert _main(_otf_args(corpus, exp, "--max-steps", "2")) == 0
    capsys.readouterr()
    assert _main(_otf_args(corpus, exp, "--resume", "--steps-per-epoch", "5")) == 1
    err = _one_error(capsys.readouterr().err)
    assert "cannot resume" in err
    assert "changed: --steps-per-epoch" in err


@pytest.mark.slow  # torchrun with 2 processes + one more: 20-60 s on 2 shared cores
def test_two_processes_give_the_weights_of_one(corpus, tmp_path):
    bindir = Path(sys.executable).parent
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # 3 draws per step: the 2 ranks split them 2 + 1 (the loss factors make up for it)
    args = _otf_args(corpus, "--batch-size", "12", "--epochs", "3")
    for nproc in (2, 1):
        cmd = [str(bindir / "torchrun"), "--standalone", f"--nproc_per_node={nproc}",
               str(bindir / "seedkit-train-seed"), *args, str(tmp_path / f"w{nproc}")]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    log2 = (tmp_path / "w2" / "log" / "train.log").read_text()
    assert "2 process(es)" in log2 and "weights identical on all 2 ranks" in log2
    assert "(3 utterance draws, 1-2 per process)" in log2
    one, two = read_checkpoint(tmp_path / "w1" / "final.pt"), read_checkpoint(
        tmp_path / "w2" / "final.pt")
    assert one["step"] == two["step"] == 6
    diff = max(float((one["model"][k] - two["model"][k]).abs().max()) for k in one["model"])
    print(f"\non the fly, 1 vs 2 processes, 6 steps: max abs weight diff {diff:.3e}")
    assert diff <= 1e-5
    # and the weights trained: both moved far from the initial weights the trainer draws
    torch.manual_seed(mix_seed(one["config"]["seed"], 0))
    init = SeedDiffusion(one["config"]).net.state_dict()
    for final in (one, two):
        moved = max(float((final["model"][k] - init[k]).abs().max()) for k in init)
        assert moved > 1e-3 > 100 * diff, (moved, diff)


# ------------------------------------------------------------------------------- bad options
@pytest.mark.parametrize("extra,expect", [
    (["--clean", "scp:x.scp"], "--clean (cached pairs) cannot go with it"),
    (["--batch-size", "10"], "batch_size 10 is not a multiple of the 4 pairs"),
    (["--crop-sec", "0.01"], "needs at least 512"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be in 1..2147483647"),
    (["--render-threads", "-1"], "--render-threads must be in 0..256"),
    (["--rirs", "/nonexistent-rirs"], "RIR data dir not found"),
])
def test_bad_options_are_one_error_line(corpus, tmp_path, capsys, extra, expect):
    args = _otf_args(corpus) + extra + [str(tmp_path / "exp")]
    assert _main(args) == 1
    assert expect in _one_error(capsys.readouterr().err)
    assert not (tmp_path / "exp" / "final.pt").exists()


def test_mode_options_are_checked(corpus, tmp_path, capsys):
    out = str(tmp_path / "exp")
    no_backbone = [a for a in _otf_args(corpus) if a != "--allow-random-backbone"]
    cases = [
        (["--config", corpus["conf"], "--train-data", corpus["train"], out],
         "--train-data: only with --on-the-fly"),
        (["--config", corpus["conf"], "--clean", "scp:x", out], "missing: --noisy, --pairs"),
        (["--config", corpus["conf"], "--on-the-fly", "--train-data", corpus["train"], out],
         "missing: --musan, --rirs, --backbone-config"),
        (no_backbone + [out], "--allow-random-backbone"),
    ]
    for argv, expect in cases:
        assert _main(argv) == 1
        assert expect in _one_error(capsys.readouterr().err)
