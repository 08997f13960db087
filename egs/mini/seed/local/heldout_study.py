#!/usr/bin/env python3
"""The held-out study of issue 27: which augmentation policy should SEED train on?

On the mini recipe's corpus (stages 0-2 done in the recipe dir: ``./run.sh --stop-stage 2``) this

1. makes the held-out eval sets (``seedkit-make-heldout-sets``: voices whose espeak-ng language and
   variant no training speaker uses, the corpus's held-out noises and rooms): heldout_clean,
   heldout_mix, heldout_rev0, heldout_snr5;
2. embeds them and the in-domain eval sets once with the frozen backbone (the baseline);
3. for every policy (``conf/augment_<policy>.yaml``): stage 3's pairs with that policy, their
   embeddings, then SEED (``conf/seed_rdm_mlp3.yaml``) trained for ``--steps`` steps with every
   training seed; the regression baseline (``conf/seed_regression.yaml``) on the release's pairs;
4. enhances, scores (cosine) and writes ``<work>/table.md``: EER per system (mean over training
   seeds) with 95% intervals from a bootstrap over speakers (:mod:`seedkit.scoring.bootstrap`,
   the same resamples for every system of a set, so differences are paired), the change against
   the frozen baseline, the difference to the release policy and to the regression baseline.

Every step is skipped when its output exists (a re-run continues); ``--table-only`` rewrites the
table from the scores. Run from the recipe dir::

    cd egs/mini/seed && ./run.sh --stop-stage 2
    nice -n 5 local/heldout_study.py --work exp/heldout_study --seeds 0,1,2 \\
        --policies release,compound,babble,wide
"""

from __future__ import annotations

import argparse
import fcntl
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from seedkit.data.datadir import read_utt2x
from seedkit.data.trials import read_trial_list
from seedkit.scoring.bootstrap import interval, replicates, speaker_clusters
from seedkit.scoring.metrics import compute_eer
from seedkit.scoring.scorefile import align_scores, read_scores

HELDOUT = ("heldout_clean", "heldout_mix", "heldout_rev0", "heldout_snr5")
INDOMAIN = ("eval_clean", "eval_mix", "eval_snr0", "eval_snr5")


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def fe_dir(exp: Path, fe: float) -> Path:
    """Where a model's embeddings enhanced with ``feature_ensemble = fe`` and their scores go."""
    return exp / f"fe{fe:g}"


def sh(cmd: str, log: Path) -> float:
    """Run ``cmd`` in bash after ``. ./path.sh``; returns its wall time; exits on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.call(["bash", "-c", f". ./path.sh && {cmd}"], stdout=f,
                             stderr=subprocess.STDOUT)
    if rc:
        sys.exit(f"ERROR (heldout_study): {log}:0: command failed ({rc}): {cmd}")
    return time.perf_counter() - t


class Study:
    def __init__(self, args: argparse.Namespace):
        self.a = args
        self.threads = max(1, 2 // args.concurrent)  # two cores
        # both: path.sh sets MKL_NUM_THREADS from OMP_NUM_THREADS when sourced, and an MKL pool
        # of 2 threads per process beside 2 trainers made every step about 10x slower
        self.env = f"OMP_NUM_THREADS={self.threads} MKL_NUM_THREADS={self.threads}"
        self.work = Path(args.work).resolve()
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()
        self.policy_locks: dict[str, threading.Lock] = {}
        tf = self.work / "times.json"
        if tf.is_file():
            self.times = json.loads(tf.read_text())

    def timed(self, name: str, cmd: str, done: Path) -> None:
        if done.exists():
            return
        t = sh(cmd, self.work / "log" / f"{name}.log")
        with self.lock:
            self.times[name] = t
            (self.work / "times.json").write_text(json.dumps(self.times, indent=1))
        print(f"{name}: {t:.0f} s", flush=True)

    def set_dir(self, name: str) -> Path:
        return (self.work / "heldout" / "eval_sets" / name) if name.startswith("heldout") \
            else Path("data") / name

    def extract(self, data: Path, out: Path, name: str) -> None:
        a = self.a
        self.timed(name, f"OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 utils/extract_embeddings.sh "
                   f"--cmd run.pl --nj {a.nj} "
                   f"--num-threads 1 --config {a.backbone_conf} --crop full --seed {a.data_seed} "
                   f"--device cpu {data} {out}", out / "xvector.scp")

    def prepare(self) -> None:
        w = self.work
        self.timed("heldout_sets", f"python -m seedkit.bin.make_heldout_sets --seed "
                   f"{self.a.data_seed} --jobs {self.a.nj} corpus {w / 'heldout'}",
                   w / "heldout" / "heldout.json")
        sets = " ".join(str(self.set_dir(x)) for x in HELDOUT)
        self.timed("heldout_union", f"utils/combine_data.sh --allow-repeated-keys true "
                   f"{w / 'data/heldout_all'} {sets}", w / "data/heldout_all/wav.scp")
        self.extract(w / "data/heldout_all", w / "xvectors/heldout_all", "extract_heldout")
        self.extract(Path("data/eval_all"), w / "xvectors/eval_all", "extract_eval")
        (w / "times.json").write_text(json.dumps(self.times, indent=1))

    def pairs(self, policy: str) -> Path:
        with self.lock:
            lock = self.policy_locks.setdefault(policy, threading.Lock())
        with lock:  # one thread makes a policy's pairs; the others wait for them
            return self._pairs(policy)

    def _pairs(self, policy: str) -> Path:
        d = self.work / "pairs" / policy
        a = self.a
        self.timed(f"augment_{policy}", f"utils/augment_data_dir.sh --cmd run.pl --nj {a.nj} "
                   f"--augment-conf conf/augment_{policy}.yaml --seed {a.data_seed} "
                   f"--musan data/musan --rirs data/rirs data/train {d}/crops {d}/aug",
                   d / "aug" / "utt2clean")
        if policy == "release" or (d / "xvectors/xvector.scp").is_file():
            self.extract(d / "aug", d / "xvectors", f"extract_{policy}")
        else:
            self.reuse_release(d, policy)
        crops = d / "crops.scp"
        if not crops.is_file():
            keys = set(read_utt2x(d / "crops" / "utt2spk"))
            lines = [ln for ln in (d / "xvectors/xvector.scp").read_text().splitlines()
                     if ln.split(maxsplit=1)[0] in keys]
            crops.write_text("".join(ln + "\n" for ln in lines))
        return d

    def reuse_release(self, d: Path, policy: str) -> None:
        """Embed only the pairs whose render-spec line differs from the release's (a spec line
        fixes the audio: same crop, sources, offsets, SNR), and take the release's embeddings
        for the others: appended types leave the release's copies as they were."""
        base = self.pairs("release")
        known = {ln.split(maxsplit=1)[0]: ln
                 for ln in (base / "aug/render.spec").read_text().splitlines()}
        mine = (d / "aug/render.spec").read_text().splitlines()
        new = [ln.split(maxsplit=1)[0] for ln in mine if known.get(ln.split(maxsplit=1)[0]) != ln]
        (d / "new.list").write_text("".join(k + "\n" for k in new))
        self.timed(f"subset_{policy}", f"seedkit-subset-data-dir --utt-list {d / 'new.list'} "
                   f"{d / 'aug'} {d / 'aug_new'}", d / "aug_new" / "wav.scp")
        self.extract(d / "aug_new", d / "xvectors_new", f"extract_{policy}")
        lines = {ln.split(maxsplit=1)[0]: ln for ln in
                 (base / "xvectors/xvector.scp").read_text().splitlines()}
        lines.update((ln.split(maxsplit=1)[0], ln) for ln in
                     (d / "xvectors_new/xvector.scp").read_text().splitlines())
        keys = sorted((ln.split(maxsplit=1)[0] for ln in mine), key=str.encode)
        (d / "xvectors").mkdir(parents=True, exist_ok=True)
        (d / "xvectors/xvector.scp").write_text("".join(lines[k] + "\n" for k in keys))
        print(f"{policy}: {len(new)} of {len(mine)} pairs embedded, the others are the "
              "release's", flush=True)

    def train(self, system: str, conf: str, d: Path, seed: int, fes: list[float]) -> Path:
        exp = self.work / "exp" / system / f"seed{seed}"
        self.timed(f"train_{system}_seed{seed}",
                   f"rm -rf {exp} && {self.env} seedkit-train-seed "
                   f"--config {conf} "
                   f"--seed {seed} --device cpu --epochs 100000 --max-steps {self.a.steps} "
                   f"--clean scp:{d / 'crops.scp'} --noisy scp:{d / 'xvectors/xvector.scp'} "
                   f"--pairs {d / 'aug/utt2clean'} {exp}", exp / "final.pt")
        for fe in fes:  # the output: enhanced + fe x normalised input, whatever the conf says
            out_dir = fe_dir(exp, fe)
            for union in ("heldout_all", "eval_all"):
                out = out_dir / "xvectors" / union
                self.timed(f"enhance_{system}_seed{seed}_fe{fe:g}_{union}",
                           f"{self.env} seedkit-enhance --seed {self.a.data_seed} "
                           f"--feature-ensemble {fe:g} {exp / 'final.pt'} "
                           f"scp:{self.work / 'xvectors' / union / 'xvector.scp'} "
                           f"ark,scp:{out}/xvector.ark,{out}/xvector.scp", out / "xvector.scp")
            self.score(out_dir)
        return exp

    def score(self, exp: Path) -> None:
        for x in HELDOUT + INDOMAIN:
            union = "heldout_all" if x.startswith("heldout") else "eval_all"
            scp = exp / "xvectors" / union / "xvector.scp"
            out = exp / "scores" / x
            if (out / "scores").is_file():
                continue
            trials = self.set_dir(x) / "trials"
            sh(f"mkdir -p {out} && seedkit-score --method cosine {trials} scp:{scp} scp:{scp} "
               f"{out / 'scores'}", out / "score.log")

    def run(self) -> None:
        self.prepare()
        self.score(self.work)  # the frozen baseline: raw embeddings (work/xvectors)
        policies = [p for p in self.a.policies.split(",") if p]  # "": the regression only
        seeds = [int(s) for s in self.a.seeds.split(",")]
        reg_seeds = [int(s) for s in self.a.regression_seeds.split(",")]
        jobs = []  # seed-major: one seed of every system first, then the next
        for seed in seeds:
            jobs += [(f"seed_{p}", self.a.conf, p, seed, floats(self.a.feature_ensemble))
                     for p in policies]
            if seed in reg_seeds:
                jobs.append(("regression_release", self.a.regression_conf, "release", seed,
                             floats(self.a.regression_feature_ensemble)))

        def one(job):
            system, conf, policy, seed, fes = job
            return self.train(system, conf, self.pairs(policy), seed, fes)

        with ThreadPoolExecutor(self.a.concurrent) as pool:
            list(pool.map(one, jobs))


# ----------------------------------------------------------------------------- the table

def _fmt(v: float, lo: float, hi: float, pct: bool = False) -> str:
    u = "%" if pct else ""
    return f"{v:+.1f}{u} [{lo:+.1f}, {hi:+.1f}]" if pct else f"{v:.2f} [{lo:.2f}, {hi:.2f}]"


def table(work: Path, policies: list[str], fes: list[float], reg_fes: list[float],
          others: list[tuple[Path, str]], resamples: int, level: float, set_dir) -> str:
    """The study's markdown table. Systems: the frozen baseline; the regression baseline and
    SEED per policy, each at every feature-ensemble value (``fe``); SEED (release policy) of
    other work dirs (``others``: (dir, label), made on another corpus with the same held-out
    and eval sets). Differences are to the first fe of SEED (release) and of the regression."""
    def seeds(exp: Path, fe: float) -> list[Path]:
        return [fe_dir(exp / f"seed{s}", fe) for s in range(100)]

    systems = {"frozen baseline": [work]}
    for fe in reg_fes:
        systems[f"regression (fe {fe:g})"] = seeds(work / "exp/regression_release", fe)
    for p in policies:
        for fe in fes:
            systems[f"SEED, {p} (fe {fe:g})"] = seeds(work / "exp" / f"seed_{p}", fe)
    for other, label in others:
        for fe in fes:
            systems[f"SEED, release (fe {fe:g}), {label}"] = seeds(
                other / "exp/seed_release", fe)
    systems = {k: [d for d in v if (d / "scores").is_dir()] for k, v in systems.items()}
    systems = {k: v for k, v in systems.items() if v}
    out = {}
    for x in HELDOUT + INDOMAIN:
        trials = read_trial_list(set_dir(x) / "trials", require_labels=True)
        flat, owner = [], []
        for name, dirs in systems.items():
            for d in dirs:
                s, lab = align_scores(read_scores(d / "scores" / x / "scores"), trials)
                flat.append(s)
                owner.append(name)
        clusters = speaker_clusters(trials.enroll, trials.test,
                                    read_utt2x(set_dir(x) / "utt2spk"), set_dir(x) / "utt2spk")
        reps = replicates(flat, lab, clusters, p_targets=(0.01,), n=resamples, seed=0)
        point = {name: float(np.mean([compute_eer(s, lab) for s, o in zip(flat, owner)
                                      if o == name])) for name in systems}
        boot = {name: np.mean([r.eer for r, o in zip(reps, owner) if o == name], axis=0)
                for name in systems}
        per_seed = {name: [compute_eer(s, lab) for s, o in zip(flat, owner) if o == name]
                    for name in systems}
        out[x] = {"point": point, "boot": boot, "per_seed": per_seed,
                  "units": clusters.describe(), "trials": len(trials)}
    base = "frozen baseline"
    reg, rel = f"regression (fe {reg_fes[0]:g})", f"SEED, release (fe {fes[0]:g})"
    lines = []

    def block(sets, title):
        lines.append(f"\n### {title}\n")
        lines.append("| system | seeds | " + " | ".join(sets) + " |")
        lines.append("|---|---:|" + "---|" * len(sets))
        for name in systems:
            cells = []
            for x in sets:
                r = out[x]
                v, b = r["point"][name], r["boot"][name]
                cell = _fmt(v, *interval(b, level))
                if name != base:
                    d = 100 * (b - r["boot"][base]) / r["boot"][base]
                    pv = 100 * (v - r["point"][base]) / r["point"][base]
                    cell += f"<br>vs frozen {_fmt(pv, *interval(d, level), pct=True)}"
                if name.startswith("SEED"):
                    for other, tag in ((reg, "vs regression"), (rel, "vs release")):
                        if other in systems and other != name:
                            d = b - r["boot"][other]
                            pv = v - r["point"][other]
                            win = float(np.mean(d[np.isfinite(d)] < 0))
                            cell += (f"<br>{tag} {_fmt(pv, *interval(d, level))} "
                                     f"(better in {100 * win:.0f}%)")
                cells.append(cell)
            lines.append(f"| {name} | {len(systems[name])} | " + " | ".join(cells) + " |")

    block(HELDOUT, "Held-out sets (voices, noises and rooms training never saw): the sets that "
          "choose")
    block(INDOMAIN, "In-domain mini eval sets (reported, never used to choose)")
    lines.append("\n### EER of each training seed\n")
    lines.append("| system | " + " | ".join(HELDOUT + INDOMAIN) + " |")
    lines.append("|---|" + "---|" * len(HELDOUT + INDOMAIN))
    for name in systems:
        lines.append(f"| {name} | " + " | ".join(
            " / ".join(f"{e:.2f}" for e in out[x]["per_seed"][name]) for x in HELDOUT + INDOMAIN)
            + " |")
    units = "; ".join(f"{x}: {out[x]['trials']} trials, {out[x]['units']}" for x in out)
    lines.append(f"\nIntervals: {level:g}% percentile, {resamples} bootstrap resamples over "
                 f"speakers (the same resamples for every system of a set; {units}).")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True, help="output dir (a re-run continues)")
    p.add_argument("--policies", default="release,compound,babble,wide")
    p.add_argument("--seeds", default="0,1,2", help="training seeds")
    p.add_argument("--steps", type=int, default=660, help="training steps of every model")
    p.add_argument("--regression-seeds", default="0,1,2", help="training seeds of the "
                   "regression baseline")
    p.add_argument("--data-seed", type=int, default=777, help="pairs/extraction/enhance seed")
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--concurrent", type=int, default=2,
                   help="models trained at once (one thread each when 2)")
    p.add_argument("--conf", default="conf/seed_rdm_mlp3.yaml")
    p.add_argument("--regression-conf", default="conf/seed_regression.yaml")
    p.add_argument("--backbone-conf", default="conf/ge2e.yaml")
    p.add_argument("--feature-ensemble", default="0.5,1",
                   help="feature_ensemble values SEED's models are enhanced with (the first is "
                   "the reference of the 'vs release' column)")
    p.add_argument("--regression-feature-ensemble", default="0,0.5",
                   help="the same for the regression baseline (the first: 'vs regression')")
    p.add_argument("--compare", action="append", default=[], metavar="WORK:LABEL",
                   help="add SEED (release) of another study's work dir, made on another "
                   "corpus with the same held-out and eval sets (e.g. another training-set size)")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--level", type=float, default=95.0)
    p.add_argument("--table-only", action="store_true", help="only rewrite the table")
    args = p.parse_args()
    if not Path("data/eval_all/.done").is_file() or not Path("corpus/corpus.json").is_file():
        sys.exit("ERROR (heldout_study): data/eval_all:0: run './run.sh --stop-stage 2' in the "
                 "recipe dir first, and run this from there")
    for name in ("feature_ensemble", "regression_feature_ensemble"):
        text = getattr(args, name)
        try:
            values = floats(text)
        except ValueError:
            values = []
        if not values or not all(0 <= v < float("inf") for v in values):
            sys.exit(f"ERROR (heldout_study): --{name.replace('_', '-')} {text}:0: give "
                     "comma-separated values >= 0, e.g. 0.5,1")
    others = []  # checked before any work
    for spec in args.compare:
        other, _, label = spec.rpartition(":")
        if not other or not label or not (Path(other) / "heldout/heldout.json").is_file():
            sys.exit(f"ERROR (heldout_study): --compare {spec}:0: give WORK:LABEL, WORK a "
                     "finished study's work dir (with heldout/heldout.json)")
        others.append((Path(other).resolve(), label))
    study = Study(args)
    t0 = time.perf_counter()
    if not args.table_only:
        # one run per work dir: a second would retrain (rm -rf) a model the first is training
        study.work.mkdir(parents=True, exist_ok=True)
        lock = open(study.work / ".lock", "w")  # noqa: SIM115 (held until exit)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            sys.exit(f"ERROR (heldout_study): {study.work / '.lock'}:0: another "
                     "heldout_study.py runs on this work dir; wait for it to end")
        study.run()
        study.times["total_this_run"] = time.perf_counter() - t0
        (study.work / "times.json").write_text(json.dumps(study.times, indent=1))
    for other, _ in others:
        if (other / "heldout/heldout.json").read_bytes() != \
                (study.work / "heldout/heldout.json").read_bytes():
            sys.exit(f"ERROR (heldout_study): {other}/heldout/heldout.json:0: other held-out "
                     "sets than this study's; copy this study's heldout/ there and rerun it")
    text = table(study.work, [p for p in args.policies.split(",") if p],
                 floats(args.feature_ensemble), floats(args.regression_feature_ensemble),
                 others, args.resamples, args.level, study.set_dir)
    (study.work / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
