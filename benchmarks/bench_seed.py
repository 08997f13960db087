"""SEED speed: one-step enhancement (embeddings/s, GFLOP/s) against a plain float32 matmul of
the same total FLOPs measured in the same run; bf16 autocast on CPU; training pairs/s.

    .venv/bin/python benchmarks/bench_seed.py [--dims 256,512] [--batch 4096] [--threads N]
                                              [--train-batch 1200] [--json out.json]

FLOPs count the linear layers only (2 per multiply-add); the timestep embedding is shared by
the batch (one t*), so it is not counted. The matmul reference is ``[batch, C] @ [C, C]``
(C = 2D, the shape of the network's widest layers) repeated k times so that it does the same
FLOPs as one enhance call. Enhancement and reference are sampled in alternation, medians of
several repeats, in this same process; compare ratios rather than absolute numbers on a shared
machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from seedkit.seed.config import merge_config, resolve_dims
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.enhance import RowEnhancer, keyed_noise, keyed_noise_rows


def _time(fn, repeats: int, min_time: float = 0.2) -> float:
    """Median seconds of one call (after a warm-up), each sample looping >= min_time s."""
    return _time_many([fn], repeats, min_time)[0]


def _time_many(fns, repeats: int, min_time: float = 0.2) -> list[float]:
    """Median seconds per call of each function, sampled in alternation (a b a b ...), so a
    change of machine load during the run affects all of them alike."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            n, start = 0, time.perf_counter()
            while True:
                fn()
                n += 1
                el = time.perf_counter() - start
                if el >= min_time:
                    break
            samples[i].append(el / n)
    return [statistics.median(s) for s in samples]


def _model(dim: int) -> SeedDiffusion:
    torch.manual_seed(0)
    model = SeedDiffusion(resolve_dims(merge_config({"embed_dim": dim})))
    with torch.no_grad():
        for p in model.net.parameters():
            if p.dim() == 2 and not p.any():
                p.normal_(0, 0.02)
    return model.eval()


def bench_enhance(dim: int, batch: int, repeats: int) -> dict:
    model = _model(dim)
    x = torch.randn(batch, dim)
    eps = torch.randn(batch, dim)
    flops = model.net.flops_per_vector(shared_time=True) * batch
    c = model.net.model_channels
    k_ref = max(1, round(flops / (2 * batch * c * c)))
    a = torch.randn(batch, c)
    w = torch.randn(c, c)
    ref_flops = 2 * k_ref * batch * c * c

    def matmul(a=a, w=w):
        for _ in range(k_ref):
            a @ w

    ab, wb = a.bfloat16(), w.bfloat16()

    def matmul_bf16():
        matmul(ab, wb)

    def enhance_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model.enhance(x, eps)

    with torch.inference_mode():
        t_net, t_mm, t_bf16, t_mm_bf16 = _time_many(
            [lambda: model.enhance(x, eps), matmul, enhance_bf16, matmul_bf16],
            repeats)
        out_bf16 = enhance_bf16().float()
        out = model.enhance(x, eps)
    enh = RowEnhancer(model, "cpu", seed=0, batch_size=batch)
    keys = [f"utt{i:06d}" for i in range(batch)]
    entries = [(k, 1) for k in keys]
    # keyed noise as the RowEnhancer draws it (one bulk call per batch) and one call per key
    t_noise, t_noise_key = _time_many([lambda: keyed_noise_rows(0, entries, dim),
                                       lambda: [keyed_noise(0, k, 1, dim) for k in keys]],
                                      max(1, repeats // 2))
    with torch.inference_mode():
        t_e2e = _time(lambda: enh.run_rows(x, keyed_noise_rows(0, entries, dim)),
                      max(1, repeats // 2))
    gf = flops / t_net / 1e9
    gf_mm = ref_flops / t_mm / 1e9
    return {
        "dim": dim, "batch": batch, "params": sum(p.numel() for p in model.net.parameters()),
        "mflop_per_embedding": flops / batch / 1e6,
        "fp32_emb_per_s": batch / t_net, "fp32_gflops": gf,
        "matmul_fp32_gflops": gf_mm, "fp32_vs_matmul": gf / gf_mm,
        "bf16_emb_per_s": batch / t_bf16, "bf16_gflops": flops / t_bf16 / 1e9,
        "matmul_bf16_gflops": ref_flops / t_mm_bf16 / 1e9,
        "bf16_speedup": t_net / t_bf16,
        "bf16_max_abs_diff": float((out_bf16 - out).abs().max()),
        "bf16_rel_rms_diff": float((out_bf16 - out).norm() / out.norm()),
        "keyed_noise_emb_per_s": batch / t_noise,
        "keyed_noise_per_key_emb_per_s": batch / t_noise_key,
        "end_to_end_emb_per_s": batch / t_e2e,
    }


def bench_train(dim: int, batch: int, repeats: int) -> dict:
    model = _model(dim).train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=5e-5)
    x, y = torch.randn(batch, dim), torch.randn(batch, dim)
    g = torch.Generator().manual_seed(0)

    def step():
        t, eps = model.draw_t_eps(batch, g)
        loss = model(x, y, t, eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    dt = _time(step, repeats)
    # forward + backward ~ 3x the forward FLOPs; per-pair time embedding is not shared here
    flops = 3 * model.net.flops_per_vector(shared_time=False) * batch
    return {"dim": dim, "batch": batch, "pairs_per_s": batch / dt,
            "train_gflops": flops / dt / 1e9, "ms_per_step": dt * 1e3}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", default="256,512")
    p.add_argument("--batch", type=int, default=4096, help="embeddings per enhance call")
    p.add_argument("--train-batch", type=int, default=1200, help="pairs per training step")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dims = [int(d) for d in args.dims.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU", flush=True)
    enh = [bench_enhance(d, args.batch, args.repeats) for d in dims]
    train = [bench_train(d, args.train_batch, args.repeats) for d in dims]
    print("\nOne-step enhancement (batch %d)" % args.batch)
    print("| D | params | MFLOP/emb | fp32 emb/s | fp32 GFLOP/s | matmul GFLOP/s | ratio "
          "| bf16 emb/s | bf16 x | bf16 rel. RMS diff | e2e emb/s (keyed noise) "
          "| keyed noise emb/s (bulk / per key) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in enh:
        print(f"| {r['dim']} | {r['params'] / 1e6:.2f} M | {r['mflop_per_embedding']:.2f} "
              f"| {r['fp32_emb_per_s']:.0f} | {r['fp32_gflops']:.1f} "
              f"| {r['matmul_fp32_gflops']:.1f} | {r['fp32_vs_matmul']:.0%} "
              f"| {r['bf16_emb_per_s']:.0f} | {r['bf16_speedup']:.2f} "
              f"| {r['bf16_rel_rms_diff']:.1e} | {r['end_to_end_emb_per_s']:.0f} "
              f"| {r['keyed_noise_emb_per_s']:.0f} / {r['keyed_noise_per_key_emb_per_s']:.0f} |")
    print("\nTraining (AdamW step, batch %d pairs)" % args.train_batch)
    print("| D | pairs/s | ms/step | GFLOP/s (3x fwd) |")
    print("|---|---|---|---|")
    for r in train:
        print(f"| {r['dim']} | {r['pairs_per_s']:.0f} | {r['ms_per_step']:.1f} "
              f"| {r['train_gflops']:.1f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threads": torch.get_num_threads(), "enhance": enh, "train": train}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
