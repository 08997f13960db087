"""Scoring throughput: trials/s for a million trials with bounded memory.

Measures, on synthetic embeddings (default 20,000 keys, D = 256, 1,000,000 random trials):
  * the reference: one unchunked numpy dot product over the same pairs,
    ``np.einsum('ij,ij->i', A[ei], B[ti])`` on pre-normalised vectors (holds 2 x trials x D floats);
  * seedkit cosine (chunked pair_dot), AS-norm (cohort 5,000, top-300) and PLDA (LDA 128) scoring
    of the same pairs, key lookup of the trial strings, EER + minDCF, and reading / writing a
    scores file;
  * the SEED multi-crop score (10 crops per key) on a subset (default 100,000 trials);
  * end to end, what ``seedkit-score --method cosine`` does (trials file and scp archive in,
    scores file out) against the checking path it took before (text reader, one scp entry at a
    time, a Python line loop; same files, alternated, best of --e2e-repeats, same bytes
    asserted), and the command's wall time with Python start-up.
Peers, measured in the same run (reference loops written here from the peers' published behaviour,
not their code): wespeaker's per-trial cosine (a Python loop over trial lines, one normalised dot
product each; on --peer-trials and scaled), wespeaker's ``compute_pmiss_pfa_rbst`` + EER + minDCF
(one argsort, cumulative sums), the original SEED multi-crop score (per trial, ``torch.cdist`` of
the normalised crops and its mean; on --peer-trials). The last column gives seedkit's speed over
the peer's for the same work.
Peak allocated memory per step (tracemalloc, which counts numpy buffers; measured in a second run
so that tracing does not distort the timing) shows that memory stays bounded.

  .venv/bin/python benchmarks/bench_score.py [--trials 1000000] [--keys 20000] [--dim 256]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

from seedkit.data.trials import read_trial_list
from seedkit.embio import iter_embeddings, write_embeddings
from seedkit.scoring.cosine import cosine_pairs
from seedkit.scoring.index import EmbeddingSet, resolve_trials
from seedkit.scoring.metrics import summarize
from seedkit.scoring.multicrop import seed_pairs
from seedkit.scoring.plda import train_plda_backend
from seedkit.scoring.score import score_sets, score_trials_file
from seedkit.scoring.scorefile import read_scores, write_scores
from seedkit.scoring.snorm import normalize_scores


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


def best_of(fns, repeats: int) -> list[float]:
    """Best seconds of each function over ``repeats`` rounds, called in alternation (a b a b),
    so that load from other processes falls on all of them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--seed-trials", type=int, default=100_000)
    ap.add_argument("--crops", type=int, default=10)
    ap.add_argument("--peer-trials", type=int, default=20_000,
                    help="trials for the slow per-trial peer loops (their rate is per trial)")
    ap.add_argument("--metric-repeats", type=int, default=7,
                    help="rounds of the metrics comparison (alternated; best of each)")
    ap.add_argument("--e2e-repeats", type=int, default=3,
                    help="end-to-end runs of each path (alternated; the best is printed)")
    args = ap.parse_args()
    r = np.random.default_rng(0)
    n, d, m = args.keys, args.dim, args.trials
    keys = [f"spk{i // 10:05d}-utt{i:06d}" for i in range(n)]
    x = r.normal(size=(n, d)).astype(np.float32)
    emb = EmbeddingSet(keys, vectors=x, name="bench")
    ei0 = r.integers(0, n, m)
    ti0 = r.integers(0, n, m)
    rows = []
    peers = []

    def row(name, trials, dt, peak, note=""):
        rows.append((name, trials, dt, trials / dt, peak, note))

    def peer(name, trials, dt, seedkit_rate):
        peers.append((name, trials, dt, trials / dt, seedkit_rate / (trials / dt)))

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
    _, _, pk = timed(summarize, cos, lab, (0.01, 0.05))
    dt, dt_w = best_of([lambda: summarize(cos, lab, (0.01, 0.05)),
                        lambda: wespeaker_metrics(cos, lab)], args.metric_repeats)
    row("metrics: EER + minDCF@0.01,0.05 (float32 cosines)", m, dt, pk,
        f"best of {args.metric_repeats}")
    peer("wespeaker compute_pmiss_pfa_rbst + EER + minDCF@0.01,0.05 (float32 cosines)", m, dt_w,
         m / dt)

    k_peer = min(args.peer_trials, m)
    table = dict(zip(keys, x))
    _, dt_wc, _ = timed(wespeaker_cosine_loop, table, ek[:k_peer], tk[:k_peer], trace=False)
    peer("wespeaker per-trial cosine loop", k_peer, dt_wc, m / dt_cos)

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
    crop_table = dict(zip(keys, crops.crops))
    _, dt_s, _ = timed(original_seed_loop, crop_table, ek[:k_peer], tk[:k_peer], trace=False)
    peer(f"original SEED per-trial cdist ({args.crops}x{args.crops} crops)", k_peer, dt_s, k / dt)

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
        sl, dt, pk = timed(read_scores, sc)
        row("read scores file", m, dt, pk)
        # metrics on the scores as seedkit-metrics reads them (float64 values of float32 cosines)
        dt, dt_w = best_of([lambda: summarize(sl.scores, lab, (0.01, 0.05)),
                            lambda: wespeaker_metrics(sl.scores, lab)], args.metric_repeats)
        peer("wespeaker metrics on float64 file scores", m, dt_w, m / dt)

        # end to end: trials file + scp archive in, scores file out (seedkit-score's library
        # call), against the checking path the command took before (same run, same files)
        write_embeddings(f"ark,scp:{tmp}/x.ark,{tmp}/x.scp", zip(keys, x))
        spec = f"scp:{tmp}/x.scp"
        e2e = os.path.join(tmp, "scores.e2e")
        old = os.path.join(tmp, "scores.old")
        t_new, t_old = [], []
        for _ in range(args.e2e_repeats):  # alternated, best of each
            t0 = time.perf_counter()
            score_trials_file(tr, spec, spec, e2e)
            t_new.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            checking_path(tr, spec, old)
            t_old.append(time.perf_counter() - t0)
        with open(e2e, "rb") as a, open(old, "rb") as b:
            assert a.read() == b.read(), "fast and checking paths wrote different bytes"
        row("seedkit-score end to end (read trials + scp, cosine, write)", m, min(t_new), 0.0,
            f"best of {args.e2e_repeats}")
        row("checking path end to end (text reader, per-entry scp, Python writer)", m,
            min(t_old), 0.0, f"best of {args.e2e_repeats}")
        t_cmd = []
        for _ in range(args.e2e_repeats):
            t0 = time.perf_counter()
            subprocess.run([os.path.join(os.path.dirname(sys.executable), "seedkit-score"), tr,
                            spec, spec, e2e], check=True)
            t_cmd.append(time.perf_counter() - t0)
        row("seedkit-score command, wall (with Python start-up and imports)", m, min(t_cmd),
            0.0, f"best of {args.e2e_repeats}")

    print(f"# {m} trials, {n} keys, D={d}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end; peak 0 = not traced")
    print("| step | trials | seconds | trials/s | peak MiB | vs reference |")
    print("|---|---:|---:|---:|---:|---:|")
    ref_rate = m / dt_ref
    for name, t, dt, rate, peak, note in rows:
        extra = f" ({note})" if note else ""
        print(f"| {name}{extra} | {t:,} | {dt:.3f} | {rate:,.0f} | {peak:.0f} | "
              f"{rate / ref_rate:.2f}x |")
    print()
    print("| peer (same work, same run) | trials | seconds | trials/s | seedkit / peer |")
    print("|---|---:|---:|---:|---:|")
    for name, t, dt, rate, ratio in peers:
        print(f"| {name} | {t:,} | {dt:.3f} | {rate:,.0f} | {ratio:.2f}x |")


def checking_path(trials: str, spec: str, out: str) -> None:
    """What ``seedkit-score`` did before the fast path: the checking text reader, one scp entry
    at a time, the string key lookup, and a Python line loop for the output."""
    tl = read_trial_list(trials)
    emb = EmbeddingSet.from_dict(dict(iter_embeddings(spec)), spec)
    scored, scores = score_sets(tl, emb, emb)
    with open(out, "w", encoding="utf-8") as f:
        for s in range(0, len(scored), 1 << 16):
            vals = ["%.9g" % v for v in scores[s:s + (1 << 16)].tolist()]
            f.write("".join(f"{a} {b} {v}\n" for a, b, v in
                            zip(scored.enroll[s:s + (1 << 16)], scored.test[s:s + (1 << 16)],
                                vals)))


def wespeaker_metrics(scores: np.ndarray, labels: np.ndarray) -> tuple[float, list[float]]:
    """wespeaker's metrics as published: one argsort, P_miss / P_fa by cumulative sums, EER at the
    crossing, minDCF per prior (c_miss = c_fa = 1)."""
    order = np.argsort(scores)
    lab = labels[order]
    tar = lab.astype(np.float64)
    non = 1.0 - tar
    pmiss = np.concatenate([[0.0], np.cumsum(tar) / tar.sum()])
    pfa = np.concatenate([[1.0], 1.0 - np.cumsum(non) / non.sum()])
    i = int(np.argmin(np.abs(pmiss - pfa)))
    eer = (pmiss[i] + pfa[i]) / 2
    dcfs = [float(np.min(pmiss * p + pfa * (1 - p)) / min(p, 1 - p)) for p in (0.01, 0.05)]
    return float(eer), dcfs


def wespeaker_cosine_loop(table: dict, enroll: list[str], test: list[str]) -> list[float]:
    """wespeaker's scoring loop: for every trial line, look both embeddings up and take the
    normalised dot product."""
    out = []
    for e, t in zip(enroll, test):
        a, b = table[e], table[t]
        out.append(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
    return out


def original_seed_loop(table: dict, enroll: list[str], test: list[str]) -> list[float]:
    """The original SEED trial score: per trial, -mean(cdist(normalize(enroll crops),
    normalize(test crops)))."""
    import torch
    import torch.nn.functional as F

    out = []
    with torch.no_grad():
        for e, t in zip(enroll, test):
            a = F.normalize(torch.from_numpy(table[e]), dim=1)
            b = F.normalize(torch.from_numpy(table[t]), dim=1)
            out.append(-float(torch.cdist(a, b).mean()))
    return out


if __name__ == "__main__":
    main()
