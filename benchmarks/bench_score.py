"""Scoring throughput: trials/s for a million trials with bounded memory.

Measures, on synthetic embeddings (default 20,000 keys, D = 256, 1,000,000 random trials):
  * the reference: one unchunked numpy dot product over the same pairs,
    ``np.einsum('ij,ij->i', A[ei], B[ti])`` on pre-normalised vectors (holds 2 x trials x D floats);
  * seedkit cosine (chunked pair_dot), AS-norm (cohort 5,000, top-300) and PLDA (LDA 128) scoring
    of the same pairs, key lookup of the trial strings, EER + minDCF, and reading / writing a
    scores file;
  * the SEED multi-crop score (10 crops per key) on a subset (default 100,000 trials).
Peak allocated memory per step (tracemalloc, which counts numpy buffers; measured in a second run
so that tracing does not distort the timing) shows that memory stays bounded.

  .venv/bin/python benchmarks/bench_score.py [--trials 1000000] [--keys 20000] [--dim 256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

import numpy as np

from seedkit.scoring.cosine import cosine_pairs
from seedkit.scoring.index import EmbeddingSet, resolve_trials
from seedkit.scoring.metrics import summarize
from seedkit.scoring.multicrop import seed_pairs
from seedkit.scoring.plda import train_plda_backend
from seedkit.scoring.scorefile import read_scores, write_scores
from seedkit.scoring.snorm import normalize_scores
from seedkit.scoring.trialio import read_trial_list


def timed(fn, *args, trace: bool = True, **kw):
    """``(result, seconds, peak MiB)``: timed untraced; the peak comes from a second, traced run
    (tracemalloc slows down object-heavy code, so it never runs while timing)."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    dt = time.perf_counter() - t0
    peak = float("nan")
    if trace:
        del out
        tracemalloc.start()
        out = fn(*args, **kw)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out, dt, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--seed-trials", type=int, default=100_000)
    ap.add_argument("--crops", type=int, default=10)
    args = ap.parse_args()
    r = np.random.default_rng(0)
    n, d, m = args.keys, args.dim, args.trials
    keys = [f"spk{i // 10:05d}-utt{i:06d}" for i in range(n)]
    x = r.normal(size=(n, d)).astype(np.float32)
    emb = EmbeddingSet(keys, vectors=x, name="bench")
    ei0 = r.integers(0, n, m)
    ti0 = r.integers(0, n, m)
    rows = []

    def row(name, trials, dt, peak, note=""):
        rows.append((name, trials, dt, trials / dt, peak, note))

    # reference: one plain numpy dot product over the same pairs (pre-normalised vectors)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref, dt_ref, pk = timed(lambda: np.einsum("ij,ij->i", xn[ei0], xn[ti0]))
    row("reference: unchunked np.einsum over pairs", m, dt_ref, pk, "normalised input")

    ek = [keys[i] for i in ei0]
    tk = [keys[i] for i in ti0]
    (ei, ti, _), dt, pk = timed(resolve_trials, ek, tk, emb, emb)
    row("key lookup (trial strings -> rows)", m, dt, pk)
    cos, dt_cos, pk = timed(cosine_pairs, emb, emb, ei, ti)
    assert np.allclose(cos, ref, atol=1e-5)
    row("seedkit cosine (normalise + chunked dot)", m, dt_cos, pk)

    lab = (ei0 // 10) == (ti0 // 10)
    lab[:1000] = True  # random pairs are almost never same-speaker: make sure both classes exist
    _, dt, pk = timed(summarize, cos, lab, (0.01, 0.05))
    row("metrics: EER + minDCF@0.01,0.05", m, dt, pk)

    cohort = r.normal(size=(5000, d)).astype(np.float32)
    cn = cohort / np.linalg.norm(cohort, axis=1, keepdims=True)
    _, dt, pk = timed(normalize_scores, cos, ei, ti, xn, xn, cn, "asnorm", 300)
    row("AS-norm top-300 (cohort 5000), after cosine", m, dt, pk, "stats for all keys")

    spk = np.repeat(np.arange(n // 10), 10)
    train = x[: (n // 10) * 10] + np.repeat(r.normal(size=(n // 10, d)), 10, 0).astype(np.float32)
    be = train_plda_backend(train, spk, lda_dim=min(128, d))
    _, dt, pk = timed(be.score_pairs, x, ei, x, ti)
    row("PLDA LLR (LDA 128 + length norm)", m, dt, pk)

    k = min(args.seed_trials, m)
    crops = EmbeddingSet(keys, crops=list(r.normal(size=(n, args.crops, d)).astype(np.float32)),
                         name="crops")
    _, dt, pk = timed(seed_pairs, crops, crops, ei[:k], ti[:k])
    row(f"SEED -mean L2 ({args.crops}x{args.crops} crops)", k, dt, pk)

    with tempfile.TemporaryDirectory() as tmp:
        tr = os.path.join(tmp, "trials")
        with open(tr, "w") as f:
            f.write("".join(f"{a} {b} {'target' if a[:8] == b[:8] else 'nontarget'}\n"
                            for a, b in zip(ek, tk)))
        _, dt, pk = timed(read_trial_list, tr)
        row("read trials file", m, dt, pk)
        sc = os.path.join(tmp, "scores")
        _, dt, pk = timed(write_scores, sc, ek, tk, cos)
        row("write scores file (atomic)", m, dt, pk)
        _, dt, pk = timed(read_scores, sc)
        row("read scores file", m, dt, pk)

    print(f"# {m} trials, {n} keys, D={d}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print("| step | trials | seconds | trials/s | peak MiB | vs reference |")
    print("|---|---:|---:|---:|---:|---:|")
    ref_rate = m / dt_ref
    for name, t, dt, rate, peak, note in rows:
        extra = f" ({note})" if note else ""
        print(f"| {name}{extra} | {t:,} | {dt:.3f} | {rate:,.0f} | {peak:.0f} | "
              f"{rate / ref_rate:.2f}x |")


if __name__ == "__main__":
    main()
