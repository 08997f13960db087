#!/usr/bin/env python3
"""How fresh must SEED's training pairs be? The quality-vs-cost study of seedkit issue 12.

On the mini recipe's corpus (``egs/mini/seed``, stages 0-2 done: ``./run.sh --stop-stage 2``) and
its eval sets, whose speakers, noises and rooms the training never sees, this trains the mini SEED
model (``conf/seed_rdm_mlp3.yaml``) for the same number of steps on

  (a) cached pairs, a fresh crop per round, K in ``--rounds``;
  (b) cached pairs, one crop per utterance (every round corrupts the same crop), same K;
  (c) on-the-fly pairs (the backbone in the training loop, every draw fresh), ``--onthefly-steps``;

and prints, per system and training seed, the EER on every eval set (and its change against the
raw embeddings), the wall time of rendering+extraction and of training, and the bytes written.

Cached pairs are made once per mode for the largest K (every round is seeded by (seed, utterance,
round), so rounds 1..K of the K_max set are exactly the K set) and each K trains on its rounds.

    cd egs/mini/seed && ./run.sh --stop-stage 2 && cd ../../..
    .venv/bin/python benchmarks/study_training_pairs.py --work /tmp/study \\
        --rounds 1,2,4,8 --seeds 0,1 --onthefly-steps 165

Everything runs through the recipe's commands (utils/*.sh and the seedkit-* bins).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL_SETS = ("eval_clean", "eval_mix", "eval_snr0", "eval_snr5")
ROUND_KEY = re.compile(r"-(clean|music|noise|reverb)(\d+)$")


def sh(cmd: str, cwd: Path, log: Path) -> float:
    """Run ``cmd`` in bash with the recipe's path.sh; returns its wall time; dies on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.call(["bash", "-c", f". ./path.sh && {cmd}"], cwd=cwd, stdout=f,
                             stderr=subprocess.STDOUT)
    if rc:
        sys.exit(f"ERROR (study): {log}:0: command failed ({rc}): {cmd}")
    return time.perf_counter() - t


def du(*paths: Path, skip_ark: bool = True) -> int:
    """Bytes of the data-dir files under ``paths``: embedding archives (with ``skip_ark``), logs
    and the ``split*`` job copies left out, as they are not part of the pairs."""
    n = 0
    for p in paths:
        for root, dirs, files in os.walk(p):
            dirs[:] = [x for x in dirs if not (x.startswith("split") or x == "log")]
            for f in files:
                if skip_ark and f.endswith(".ark"):
                    continue
                n += os.path.getsize(os.path.join(root, f))
    return n


def round_of(key: str) -> int:
    """Round of a pair key (``<utt>-music3`` -> 3); 1 for a one-crop clean key ``<utt>``."""
    m = ROUND_KEY.search(key)
    return int(m.group(2)) if m else 1


def subset(lines: list[str], keep) -> list[str]:
    return [ln for ln in lines if ln.split(maxsplit=1)[0] and keep(ln.split(maxsplit=1)[0])]


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines))
    return path


def eer_of(metrics_json: Path) -> float:
    return float(json.loads(metrics_json.read_text())["eer_percent"])


def evaluate(recipe: Path, emb_scp: Path, out: Path, eval_sets: list[str]) -> dict[str, float]:
    """EER (%) of cosine scoring on every eval set, from one scp of every eval utterance."""
    lines = emb_scp.read_text().splitlines(keepends=True)
    res = {}
    for x in eval_sets:
        utts = {ln.split()[0] for ln in (recipe / "data" / x / "utt2spk").read_text().splitlines()}
        scp = write(out / x / "xvector.scp", subset(lines, lambda k, u=utts: k in u))
        trials = recipe / "data" / x / "trials"
        sh(f"seedkit-score --method cosine {trials} scp:{scp} scp:{scp} {out / x / 'scores'} && "
           f"seedkit-metrics --json {out / x / 'metrics.json'} {out / x / 'scores'} {trials}",
           recipe, out / x / "score.log")
        res[x] = eer_of(out / x / "metrics.json")
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", type=Path, default=REPO / "egs/mini/seed")
    p.add_argument("--work", type=Path, required=True, help="output dir (reused on a re-run)")
    p.add_argument("--rounds", default="1,2,4,8", help="K values")
    p.add_argument("--modes", default="fresh,onecrop", help="cached modes to run")
    p.add_argument("--seeds", default="0", help="training seeds")
    p.add_argument("--steps", type=int, default=660, help="training steps of every model")
    p.add_argument("--onthefly-steps", type=int, default=0,
                   help="steps of the on-the-fly model (0: not run)")
    p.add_argument("--reference-rounds", default="2,16",
                   help="K of the cached models also trained for --onthefly-steps")
    p.add_argument("--data-seed", type=int, default=777, help="augmentation/extraction seed")
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--eval-sets", default=",".join(EVAL_SETS))
    p.add_argument("--conf", default="conf/seed_rdm_mlp3.yaml")
    p.add_argument("--backbone-conf", default="conf/ge2e.yaml")
    args = p.parse_args()
    recipe, work = args.recipe.resolve(), args.work.resolve()
    ks = sorted(int(k) for k in args.rounds.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    eval_sets = args.eval_sets.split(",")
    for x in ["train", "musan", "rirs", "eval_all", *eval_sets]:
        if not (recipe / "data" / x / ".done").is_file():
            sys.exit(f"ERROR (study): {recipe / 'data' / x}:0: not prepared; run "
                     f"'./run.sh --stop-stage 2' in {recipe} first")
    work.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    ds = args.data_seed
    ext = (f"utils/extract_embeddings.sh --cmd run.pl --nj {args.nj} --num-threads 1 "
           f"--config {args.backbone_conf} --crop full --seed {ds} --device cpu")

    # raw eval embeddings (the baseline) once
    ev = work / "xvectors/eval_all"
    if not (ev / "xvector.scp").is_file():
        sh(f"{ext} data/eval_all {ev}", recipe, work / "log/extract_eval.log")
    base = evaluate(recipe, ev / "xvector.scp", work / "scores/baseline", eval_sets)
    results.append({"system": "baseline", "eer": base})
    print("baseline EER:", base, flush=True)

    # cached pairs: K_max rounds per mode, rendered on extraction
    kmax = ks[-1]
    made = {}
    for mode in args.modes.split(","):
        fresh = {"fresh": "true", "onecrop": "false"}[mode]
        d = work / f"pairs_{mode}"
        stamp = d / "times.json"
        if not stamp.is_file():
            shutil.rmtree(d, ignore_errors=True)
            t_aug = sh(f"utils/augment_data_dir.sh --cmd run.pl --nj {args.nj} --rounds {kmax} "
                       f"--seed {ds} --musan data/musan --rirs data/rirs --fresh-crops {fresh} "
                       f"--materialise false data/train {d}/crops {d}/aug", recipe,
                       d / "log/augment.log")
            t_ext = sh(f"OMP_NUM_THREADS=1 {ext} {d}/aug {d}/xvectors", recipe,
                       d / "log/extract.log")
            stamp.write_text(json.dumps({"augment_s": t_aug, "extract_s": t_ext,
                                         "bytes": du(d / "crops", d / "aug")}))
        made[mode] = {**json.loads(stamp.read_text()), "bytes": du(d / "crops", d / "aug")}
        print(mode, made[mode], flush=True)

    def train(name: str, seed: int, opts: str) -> tuple[Path, float]:
        exp = work / "exp" / name / f"seed{seed}"
        if not (exp / "final.pt").is_file():
            shutil.rmtree(exp, ignore_errors=True)
            t = sh(f"OMP_NUM_THREADS=2 seedkit-train-seed --config {args.conf} --seed {seed} "
                   f"--device cpu --epochs 100000 {opts} {exp}", recipe, exp / "run.log")
            (exp / "train_s").write_text(f"{t}\n")
        return exp, float((exp / "train_s").read_text())

    def score(exp: Path) -> dict[str, float]:
        out = exp / "xvectors/eval_all"
        if not (out / "xvector.scp").is_file():
            sh(f"seedkit-enhance --seed {ds} {exp / 'final.pt'} scp:{ev / 'xvector.scp'} "
               f"ark,scp:{out}/xvector.ark,{out}/xvector.scp", recipe, exp / "enhance.log")
        return evaluate(recipe, out / "xvector.scp", exp / "scores", eval_sets)

    for mode in made:
        d = work / f"pairs_{mode}"
        pairs = (d / "aug/utt2clean").read_text().splitlines()
        scp = (d / "xvectors/xvector.scp").read_text().splitlines()
        clean_keys = {ln.split()[1] for ln in pairs}
        per_k_extract = made[mode]["extract_s"]
        for k in ks:
            kdir = d / f"K{k}"
            pk = write(kdir / "utt2clean", subset(pairs, lambda key, k=k: round_of(key) <= k))
            cs = write(kdir / "clean.scp", subset(scp, lambda key, k=k, c=clean_keys: key in c
                                                  and round_of(key) <= k))
            n_pairs = len(pk.read_text().splitlines())
            for seed in seeds:
                exp, t_train = train(f"{mode}_K{k}", seed,
                                     f"--max-steps {args.steps} --clean scp:{cs} "
                                     f"--noisy scp:{d / 'xvectors/xvector.scp'} --pairs {pk}")
                results.append({"system": f"cached, {mode}", "K": k, "seed": seed,
                                "pairs": n_pairs, "eer": score(exp), "train_s": t_train,
                                # every crop costs the same: this K's share of the K_max work
                                "extract_s": per_k_extract * n_pairs / len(pairs),
                                "bytes": made[mode]["bytes"] * n_pairs / len(pairs)})
                print(results[-1], flush=True)

    if args.onthefly_steps:
        for seed in seeds:
            exp, t_train = train("onthefly", seed,
                                 f"--max-steps {args.onthefly_steps} --on-the-fly "
                                 f"--train-data data/train --musan data/musan --rirs data/rirs "
                                 f"--backbone-config {args.backbone_conf}")
            results.append({"system": "on-the-fly", "K": "-", "seed": seed,
                            "steps": args.onthefly_steps, "eer": score(exp), "train_s": t_train,
                            "extract_s": 0.0, "bytes": 0})
            print(results[-1], flush=True)
        if args.onthefly_steps != args.steps:  # cached references at the same steps
            for mode, k in ((m, int(k)) for m in made
                            for k in args.reference_rounds.split(",") if int(k) in ks):
                d = work / f"pairs_{mode}"
                share = (len((d / f"K{k}/utt2clean").read_text().splitlines())
                         / len((d / "aug/utt2clean").read_text().splitlines()))
                for seed in seeds:
                    exp, t_train = train(f"{mode}_K{k}_steps{args.onthefly_steps}", seed,
                                         f"--max-steps {args.onthefly_steps} "
                                         f"--clean scp:{d / f'K{k}/clean.scp'} "
                                         f"--noisy scp:{d / 'xvectors/xvector.scp'} "
                                         f"--pairs {d / f'K{k}/utt2clean'}")
                    results.append({"system": f"cached, {mode}", "K": k, "seed": seed,
                                    "steps": args.onthefly_steps, "eer": score(exp),
                                    "train_s": t_train,
                                    "extract_s": made[mode]["extract_s"] * share,
                                    "bytes": made[mode]["bytes"] * share})
                    print(results[-1], flush=True)

    (work / "results.json").write_text(json.dumps(results, indent=1))
    print_table(results, eval_sets, args.steps)
    return 0


def print_table(results: list[dict], eval_sets: list[str], steps: int) -> None:
    base = results[0]["eer"]
    head = ["system", "K", "steps", "seeds"] + [f"{x} EER (change)" for x in eval_sets] + [
        "render+extract s", "train s", "pairs data dir MB (no embeddings)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    print("| raw embeddings | - | - | - | " + " | ".join(f"{base[x]:.2f}" for x in eval_sets)
          + " | - | - | - |")
    groups: dict[tuple, list[dict]] = {}
    for r in results[1:]:
        groups.setdefault((r["system"], r["K"], r.get("steps", steps)), []).append(r)
    for (system, k, st), rs in groups.items():
        cells = []
        for x in eval_sets:
            e = sum(r["eer"][x] for r in rs) / len(rs)
            cells.append(f"{e:.2f} ({100 * (e - base[x]) / base[x]:+.1f}%)")
        tr = sum(r["train_s"] for r in rs) / len(rs)
        print(f"| {system} | {k} | {st} | {len(rs)} | " + " | ".join(cells)
              + f" | {rs[0]['extract_s']:.0f} | {tr:.0f} | {rs[0]['bytes'] / 1e6:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
