"""Speed of the speaker bootstrap (seedkit.scoring.bootstrap) on a large synthetic trial list.

A list of ``--trials`` trials (default 1,000,000) among ``--speakers`` speakers (default 1,000;
half of the trials target), float32 scores with per-speaker offsets, is resampled ``--resamples``
times (default 1,000) by speaker. Rows (same run, best of ``--repeats``):

  * reference: the point estimate, ``summarize`` (EER + minDCF at 0.01, 0.05) once;
  * written-out resample: what a plain bootstrap does per resample, the trials repeated by their
    weights (``np.repeat``) and ``summarize`` on them (``--naive`` resamples, per-resample time);
  * seedkit ``bootstrap_ci`` with 1 and 2 threads, and ``compare_systems`` (two systems, the
    same resamples), total seconds and per resample.

Ratios are against the reference (how many point estimates one resample costs) and against the
written-out resample (speed-up).

    .venv/bin/python benchmarks/bench_bootstrap.py [--trials 1000000] [--speakers 1000]
        [--resamples 1000] [--naive 5] [--repeats 2]

``--coverage N`` runs the simulation check of tests/scoring/test_metrics_ci.py instead and prints
its numbers: N independent simulations (40 speakers x 4 utterances, all 240 target pairs and 960
non-target pairs; target score = 3 + u_spk + e, non-target = v_a + v_b + e, u ~ N(0, 0.8^2),
v ~ N(0, 0.6^2), e ~ N(0, 1)), each with a 95% interval from 200 resamples by speaker and by
trial: how often each holds the true EER (that of the population's scores, N(3, 1.64) and
N(0, 1.72)), their mean widths, and 2 x 1.96 x the standard deviation of the EER over the
simulations (the spread an interval should match).

    .venv/bin/python benchmarks/bench_bootstrap.py --coverage 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import optimize, stats

from seedkit.scoring.bootstrap import Clusters, compare_systems, interval, replicates
from seedkit.scoring.metrics import summarize

# the simulation (tests/scoring/test_metrics_ci.py imports it): target score = MU + u_spk + e,
# non-target score = v_a + v_b + e, e ~ N(0, 1), u ~ N(0, TAU_T^2), v ~ N(0, TAU_N^2) per
# speaker; over the population of speakers the scores are N(MU, TAU_T^2 + 1) and
# N(0, 2 TAU_N^2 + 1), whose EER is the truth
MU, TAU_T, TAU_N = 3.0, 0.8, 0.6


def true_eer() -> float:
    sd_t, sd_n = np.hypot(TAU_T, 1.0), np.sqrt(2 * TAU_N ** 2 + 1)
    t = optimize.brentq(lambda x: stats.norm.cdf((x - MU) / sd_t) - stats.norm.sf(x / sd_n),
                        -10, 10)
    return 100 * float(stats.norm.sf(t / sd_n))


def simulate(rng, n_spk=40, per=4, nontarget_per_utt=12):
    spk = np.repeat(np.arange(n_spk), per)
    u, v = rng.normal(0, TAU_T, n_spk), rng.normal(0, TAU_N, n_spk)
    ea, eb = np.triu_indices(spk.size, 1)
    tar = spk[ea] == spk[eb]
    keep = rng.choice(np.flatnonzero(~tar), spk.size * nontarget_per_utt // 2, replace=False)
    idx = np.r_[np.flatnonzero(tar), keep]
    a, b, tar = spk[ea[idx]], spk[eb[idx]], tar[idx]
    s = np.where(tar, MU + u[a], v[a] + v[b]) + rng.normal(size=idx.size)
    return s, tar, a, b


def simulations(n_sims: int) -> tuple[dict[str, int], dict[str, list], list[float]]:
    """``n_sims`` simulations, each with a 95% interval from 200 resamples by speaker and by
    trial: (intervals holding the true EER, interval widths, the EER estimates)."""
    truth = true_eer()
    rng = np.random.default_rng(5)
    cover = {"speaker": 0, "trial": 0}
    width: dict[str, list] = {"speaker": [], "trial": []}
    estimates = []
    for k in range(n_sims):
        s, tar, a, b = simulate(rng)
        estimates.append(summarize(s, tar)["eer_percent"])
        i = np.arange(s.size)
        for name, cl in (("speaker", Clusters(a, b, 40, 40, True)),
                         ("trial", Clusters(i, i, s.size, s.size, True))):
            (rep,) = replicates([s], tar, cl, p_targets=(0.05,), n=200, seed=k)
            lo, hi = interval(rep.eer, 95.0)
            cover[name] += lo <= truth <= hi
            width[name].append(hi - lo)
    return cover, width, estimates


def coverage(n_sims: int) -> None:
    truth = true_eer()
    t0 = time.perf_counter()
    cover, width, estimates = simulations(n_sims)
    spread = 2 * 1.96 * float(np.std(estimates))
    print(f"true EER {truth:.3f}%, mean estimate {np.mean(estimates):.3f}% over {n_sims} "
          f"simulations ({time.perf_counter() - t0:.1f} s)")
    print("| resampled unit | 95% intervals holding the true EER | mean width (points) | "
          "width / (2 x 1.96 x sd of the estimates) |")
    print("|---|---:|---:|---:|")
    for name in ("speaker", "trial"):
        w = float(np.mean(width[name]))
        print(f"| {name} | {cover[name]} / {n_sims} | {w:.2f} | {w / spread:.2f} |")
    print(f"2 x 1.96 x sd of the EER over the simulations: {spread:.2f} points")


def synthetic(n_trials: int, n_spk: int, seed: int = 0):
    """(scores A, scores B, labels, clusters): half target; offsets per speaker."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_spk, n_trials)
    b = rng.integers(0, n_spk, n_trials)
    tar = np.zeros(n_trials, dtype=bool)
    tar[: n_trials // 2] = True
    b[tar] = a[tar]
    b[~tar] = np.where(b[~tar] == a[~tar], (a[~tar] + 1) % n_spk, b[~tar])
    u, v = rng.normal(0, 0.3, n_spk), rng.normal(0, 0.2, n_spk)
    s = np.where(tar, 2.5 + u[a], v[a] + v[b]) + rng.normal(size=n_trials)
    s_b = s + rng.normal(0, 0.5, n_trials)
    return (s.astype(np.float32).astype(np.float64), s_b.astype(np.float32).astype(np.float64),
            tar, Clusters(a, b, n_spk, n_spk, True))


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=1_000_000)
    p.add_argument("--speakers", type=int, default=1000)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--naive", type=int, default=5, help="written-out resamples timed")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--coverage", type=int, metavar="N",
                   help="run N simulations of the coverage check instead")
    args = p.parse_args()
    if args.coverage:
        coverage(args.coverage)
        return 0
    s, s_b, tar, cl = synthetic(args.trials, args.speakers)
    n = args.resamples
    ref = best(lambda: summarize(s, tar), args.repeats)

    rng = np.random.default_rng(1)

    def naive():
        for _ in range(args.naive):
            m = rng.multinomial(cl.n_a, np.full(cl.n_a, 1 / cl.n_a))
            w = np.where(cl.a == cl.b, m[cl.a], m[cl.a] * m[cl.b])
            summarize(np.repeat(s, w), np.repeat(tar, w))

    per_naive = best(naive, args.repeats) / args.naive
    rows = [("reference: summarize (point estimate)", 1, ref),
            (f"written-out resample (np.repeat + summarize; {args.naive} timed)", 1, per_naive)]
    for threads in (1, 2):
        t = best(lambda k=threads: replicates([s], tar, cl, n=n, seed=0, threads=k), args.repeats)
        rows.append((f"seedkit bootstrap, {threads} thread(s)", n, t))
    t = best(lambda: compare_systems(s, s_b, tar, cl, n=n, seed=0), args.repeats)
    rows.append(("seedkit paired comparison (2 systems, default threads)", n, t))
    print(f"{args.trials:,} trials ({int(tar.sum()):,} target), {args.speakers:,} speakers, "
          f"best of {args.repeats}")
    print("| step | resamples | seconds | ms per resample | x reference | written-out / this |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, k, sec in rows:
        per = sec / k
        print(f"| {name} | {k:,} | {sec:.3f} | {1000 * per:.2f} | {per / ref:.2f} | "
              f"{per_naive / per:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
