"""Render-on-extract throughput: embedding the same training-pair crops from materialised wav
files against rendering them at extraction time (seedkit-augment-data-dir's spec mode).

A synthetic clean data dir (``--utts`` utterances of 3-9 s) with MUSAN and RIR fixtures
(seedkit.corpus.real_layout) is augmented twice with the same plan (``--rounds`` K, fresh crops):

  * materialised: ``--materialise true`` (16-bit wavs, as users of other extractors get them);
  * spec:         the default: render.spec + render pipes, no audio.

For each backbone the two train_aug dirs (N = utts x K x 4 crops of 2.015 s, crop ``full`` as
the recipes embed them) are embedded alternately ``--repeats`` times through seedkit-extract's
own loop (``iter_utterances`` + ``run_extraction``, same loaded model, torch ``--threads``,
``--read-threads`` reader threads). Before every spec run the process caches (parsed spec,
renderer, source tables) are dropped, so each spec run pays what a fresh extraction job pays:
parsing and checking the spec against its sources. Best run of each is reported, with
ratio = spec crops/s / materialised crops/s (target >= 0.9), the renderer alone (crops/s, no
model) and bytes on disk per pair in both modes (the two data dirs, wavs included).

    .venv/bin/python benchmarks/bench_render.py [--utts 12] [--rounds 2] [--repeats 3]
        [--threads 1] [--read-threads 2] [--device cpu] [--backbones GE2E,ResNetSE34V2]

GE2E uses its real resemblyzer weights, ResNetSE34V2 random weights (same cost).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seedkit.augment import augment_data_dir
from seedkit.corpus import real_layout as rl
from seedkit.crops import parse_crop
from seedkit.data.datadir import DataDir, load_data_dir, write_data_dir
from seedkit.extract import build_embedder, iter_utterances, run_extraction
from seedkit.models.config import load_backbone_config
from seedkit.prepare import corpora
from seedkit.render import drop_caches, load_spec

REPO = Path(__file__).resolve().parent.parent
CONFS = {
    "GE2E": REPO / "egs/mini/seed/conf/ge2e.yaml",
    "ResNetSE34V2": REPO / "egs/voxceleb/seed/conf/resnetse34v2.yaml",
}


def make_inputs(root: Path, n: int, seed: int = 0) -> Path:
    """A clean data dir of ``n`` voiced utterances (3-9 s), MUSAN and RIR data dirs."""
    rng = np.random.default_rng(seed)
    dd = DataDir()
    for i in range(n):
        key = f"spk{i % 4}-utt{i:03d}"
        path = root / "clean" / f"{key}.wav"
        rl._write(path, rl.voice(16000, float(rng.uniform(3, 9)), float(rng.uniform(90, 250)),
                                 1.0, rng), 16000)
        dd.wav_scp[key] = str(path)
        dd.utt2spk[key] = f"spk{i % 4}"
    dd.wav_scp = dict(sorted(dd.wav_scp.items()))
    dd.utt2spk = dict(sorted(dd.utt2spk.items()))
    write_data_dir(dd, root / "data" / "clean")
    rl.write_musan(root, per_subset=2, seconds=(4.0, 12.0), seed=seed)
    rl.write_rirs_noises(root, rooms=2, per_room=2, seed=seed)
    corpora.prepare_musan(root / "musan", root / "data")
    corpora.prepare_rirs(root / "RIRS_NOISES", root / "data")
    return root / "data"


def dir_bytes(*dirs: Path) -> int:
    return sum(p.stat().st_size for d in dirs for p in d.rglob("*") if p.is_file())


def run_once(embedder, data: Path, cfg, mode, ark: str, read_threads: int) -> float:
    """Seconds of seedkit-extract's loop over ``data`` (spec parsing and checking included)."""
    drop_caches()
    t0 = time.perf_counter()
    total, items = iter_utterances(data, cfg.sample_rate, mode, 0, embedder.min_samples,
                                   read_threads)
    run_extraction(embedder, items, total, f"ark:{ark}", mode, cfg.batch_size, progress=False)
    return time.perf_counter() - t0


def render_alone(spec_dir: Path) -> float:
    """Crops/s of the renderer alone (one thread, no model), spec loading included."""
    drop_caches()
    t0 = time.perf_counter()
    spec = load_spec(spec_dir / "render.spec")
    spec.check()
    r = spec.renderer()
    for e in spec.entries.values():
        r.render(e)
    return len(spec.entries) / (time.perf_counter() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=12)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--read-threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backbones", default=",".join(CONFS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = make_inputs(root, args.utts)
        kw = {"musan": inputs / "musan", "rirs": inputs / "rirs", "rounds": args.rounds}
        t0 = time.perf_counter()
        augment_data_dir(inputs / "clean", root / "mat/crops", root / "mat/aug",
                         materialise=True, **kw)
        t_mat = time.perf_counter() - t0
        t0 = time.perf_counter()
        augment_data_dir(inputs / "clean", root / "spec/crops", root / "spec/aug", **kw)
        t_spec = time.perf_counter() - t0
        pairs = len(load_data_dir(root / "spec/aug").utt2spk)
        b_mat = dir_bytes(root / "mat/crops", root / "mat/aug") / pairs
        b_spec = dir_bytes(root / "spec/crops", root / "spec/aug") / pairs
        renders = max(render_alone(root / "spec/aug") for _ in range(args.repeats))
        for name in args.backbones.split(","):
            cfg = load_backbone_config(CONFS[name])
            mode = parse_crop("full")
            embedder = build_embedder(cfg, device=args.device, allow_random_weights=True)
            run_once(embedder, root / "mat/aug", cfg, mode, f"{tmp}/warm.ark", 1)  # warm-up
            mat, spec = [], []
            for r in range(args.repeats):  # alternate the order: load drifts over time
                order = (("mat", mat), ("spec", spec)) if r % 2 == 0 else \
                    (("spec", spec), ("mat", mat))
                for which, out in order:
                    out.append(run_once(embedder, root / which / "aug", cfg, mode,
                                        f"{tmp}/{name}.{which}.ark", args.read_threads))
            rows.append((name, pairs / min(mat), pairs / min(spec), min(mat) / min(spec),
                         " ".join(f"{t:.2f}" for t in mat), " ".join(f"{t:.2f}" for t in spec)))
    print(f"\ndevice {args.device}, torch threads {args.threads}, read threads "
          f"{args.read_threads}, {args.utts} utterances x K={args.rounds} x 4 = {pairs} crops "
          f"of 2.015 s (crop full), best of {args.repeats}")
    print("| backbone | materialised crops/s | render-on-extract crops/s | ratio | "
          "materialised runs (s) | render-on-extract runs (s) |")
    print("|---|---|---|---|---|---|")
    for name, m, s, ratio, m_runs, s_runs in rows:
        print(f"| {name} | {m:.1f} | {s:.1f} | {ratio:.3f} | {m_runs} | {s_runs} |")
    print(f"renderer alone (1 thread, no model, spec parse+check included): {renders:.0f} crops/s")
    print(f"bytes on disk per pair: materialised {b_mat:.0f} (16-bit wavs + tables), "
          f"spec {b_spec:.0f} (tables only); {b_mat / b_spec:.0f}x less")
    print(f"seedkit-augment-data-dir: materialise {t_mat:.2f} s, spec {t_spec:.2f} s")
    print("ratio = render-on-extract crops/s / materialised crops/s (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
