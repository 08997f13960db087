"""SEED training speed in the steady state: the trainer's step against the bare network step.

    .venv/bin/python benchmarks/bench_train.py [--device cpu|cuda] [--dims 256,512]
                                               [--batch 1200] [--steps 20] [--threads N]

For each D, in one process:
  * train steady-state: :class:`seedkit.seed.train.Trainer` steps on synthetic cached pairs held
    by :class:`seedkit.seed.batches.CachedPairs` (the recipe's config,
    egs/voxceleb/seed/conf/seed_rdm_mlp3.yaml, at ``--batch`` pairs per step), timed after
    warm-up steps, the device synchronised only at the ends of a timed run; its pairs/s and the
    share of a step the sampler takes (``data``; the network, optimiser and the rest: ``net``);
  * the bare network step: forward, backward and AdamW on tensors already on the device, the
    same model and batch: the reference a trainer step can at best reach;
  * the old-style step: the same step as the trainer made it before the device-resident change
    (the host sampler below, the schedule table copied to the device in every forward, the loss
    read back after every step): "today's" steady state, in the same run;
  * ``sampler <ms>/step``: the order, gather and t and epsilon of one step with no network
    (device synchronised per call): the trainer's (index arrays on the device,
    :class:`seedkit.seed.sampling.DeviceNoise`) and the host path seedkit trained with before
    (order and gather on the host, t and epsilon by numpy, copied to the device), kept in this
    file as the reference; and ``noise alone``: t and epsilon only, DeviceNoise against the
    numpy draw (the rest of a sampler's time is its order and gather).
Trainer, bare step and samplers are sampled in alternation (medians of ``--repeats``), so a
change of machine load during the run affects them alike. On the CPU the times are CPU seconds of
the process (``time.process_time``: on a shared machine the wall clock measures the other jobs
too; pairs/s = pairs per CPU second, one thread by default here), on a GPU wall seconds with the
device synchronised.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seedkit.rng import mix_seed
from seedkit.seed.batches import CachedPairs
from seedkit.seed.config import load_config_file, merge_config
from seedkit.seed.data import PairSet
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.distributed import DistInfo
from seedkit.seed.sampling import DeviceNoise, epoch_order, step_shard
from seedkit.seed.train import Meter, Trainer

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "egs/voxceleb/seed/conf/seed_rdm_mlp3.yaml"
SAMPLER_CALLS = 10  # sampler calls per timed sample (each synchronised)

# ------------------------------------------------------------------- the old host-side sampler
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def numpy_pair_noise(seed: int, epoch: int, positions: torch.Tensor, dim: int,
                     num_timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """t and epsilon as seedkit drew them on the host before DeviceNoise (numpy uint64)."""
    base = np.uint64(mix_seed(seed, 2, epoch))
    pos = positions.cpu().numpy().astype(np.uint64)
    key = _splitmix64(pos * _GOLDEN + base)
    half = (dim + 1) // 2
    words = _splitmix64(key[:, None] + np.arange(1, half + 2, dtype=np.uint64) * _GOLDEN)
    t = ((words[:, 0] >> np.uint64(32)) * np.uint64(num_timesteps)) >> np.uint64(32)
    w = words[:, 1:]
    u1 = ((w >> np.uint64(41)) * np.uint64(2) + np.uint64(1)).astype(np.float32) * 2.0 ** -24
    u2 = (w & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0 ** -24)
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    theta = np.float32(2.0 * np.pi) * u2
    eps = np.empty((pos.shape[0], half, 2), dtype=np.float32)
    eps[:, :, 0] = r * np.cos(theta)
    eps[:, :, 1] = r * np.sin(theta)
    return (torch.from_numpy(t.astype(np.int64)),
            torch.from_numpy(np.ascontiguousarray(eps.reshape(pos.shape[0], 2 * half)[:, :dim])))


class OldSampler:
    """One step's pairs as the trainer made them before: epoch order and index arrays on the
    host, rows gathered by host indices copied to the device, numpy t and epsilon copied over."""

    def __init__(self, data: PairSet, seed: int, device: torch.device, num_timesteps: int):
        self.data, self.seed, self.device, self.T = data, seed, device, num_timesteps
        self.table = torch.from_numpy(data.table).to(device)
        self.src, self.tgt = torch.from_numpy(data.src), torch.from_numpy(data.tgt)
        self._order: tuple[int, torch.Tensor] = (-1, self.src)

    def __call__(self, epoch: int, step: int, batch_size: int):
        n = len(self.data)
        if self._order[0] != epoch:
            self._order = (epoch, epoch_order(n, self.seed, epoch))
        pos, _ = step_shard(n, 0, 1, batch_size, step)
        idx = self._order[1][pos % n]
        x0 = self.table[self.src[idx].to(self.device)]
        x1 = self.table[self.tgt[idx].to(self.device)]
        t, eps = numpy_pair_noise(self.seed, epoch, pos, self.data.dim, self.T)
        return x0, x1, t.to(self.device), eps.to(self.device)


# ------------------------------------------------------------------- set-up
def synthetic_pairs(num_pairs: int, dim: int) -> PairSet:
    """``num_pairs`` (noisy, clean) pairs over random rows: 3 noisy copies per clean row."""
    g = np.random.default_rng(0)
    n_clean = max(1, num_pairs // 3)
    table = g.standard_normal((n_clean + num_pairs, dim)).astype(np.float32)
    src = np.arange(n_clean, n_clean + num_pairs, dtype=np.int64)
    tgt = np.arange(num_pairs, dtype=np.int64) % n_clean
    names = [f"row{i}" for i in range(table.shape[0])]
    return PairSet(table, src, tgt, names, num_pairs, 0)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def clock(dev: torch.device) -> Callable[[], float]:
    """The clock of a timing: CPU seconds of this process on the CPU (on a shared machine the
    wall clock measures the other jobs too); on a GPU the wall clock (the device synchronised)."""
    return time.perf_counter if dev.type == "cuda" else time.process_time


def _medians(fns: list[Callable[[], None]], repeats: int, dev: torch.device) -> list[float]:
    """Median seconds of each ``fn`` (each sample: ``fn`` once, then a device sync; ``fn`` may
    run several steps), sampled in alternation."""
    now = clock(dev)
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            _sync(dev)
            start = now()
            fn()
            _sync(dev)
            samples[i].append(now() - start)
    return [statistics.median(s) for s in samples]


def bench_dim(dim: int, batch: int, steps: int, warmup: int, repeats: int, num_pairs: int,
              dev: torch.device, work: Path) -> dict:
    """Trainer steady state, bare network step and both samplers at one D (see the module)."""
    data = synthetic_pairs(num_pairs, dim)
    cfg = merge_config(load_config_file(CONF)[0],
                       {"batch_size": batch, "epochs": 10 ** 6, "log_interval": 10 ** 9})
    source = CachedPairs(data, cfg["seed"], dev)
    exp = work / f"exp{dim}"
    exp.mkdir()
    trainer = Trainer(cfg, source, exp, DistInfo(device=dev), None, False)
    trainer.meter = Meter(source, tqdm(disable=True), dev)

    def train_steps(n: int = steps) -> None:
        for _ in range(n):
            if trainer.step_in_epoch >= trainer.steps_per_epoch:
                trainer.epoch, trainer.step_in_epoch = trainer.epoch + 1, 0
            trainer.train_step(trainer.step_in_epoch)
            trainer.step_in_epoch += 1

    model = SeedDiffusion(trainer.cfg).to(dev)
    model.schedule.alphas_cumprod = model.schedule.alphas_cumprod.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"],
                            fused=True)
    gen = torch.Generator().manual_seed(0)
    x0, x1 = (torch.randn(batch, dim, generator=gen).to(dev) for _ in range(2))
    t = torch.randint(0, cfg["train_timesteps"], (batch,), generator=gen).to(dev)
    eps = torch.randn(batch, dim, generator=gen).to(dev)

    def bare_steps(n: int = steps) -> None:
        for _ in range(n):
            loss = model(x0, x1, t, eps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    # the samplers alone, with their own order caches (the trainer's is at another epoch)
    new = CachedPairs(data, cfg["seed"], dev)
    noise = DeviceNoise(dim, cfg["train_timesteps"], dev)
    old = OldSampler(data, cfg["seed"], dev, cfg["train_timesteps"])
    n_steps = math.ceil(num_pairs / batch)
    k = {"new": 0, "old": 0, "old_step": 0}
    # the step as the trainer made it before: the host sampler, the schedule table left on the
    # CPU (copied to the device in every forward) and the loss read back after every step
    old_model = SeedDiffusion(trainer.cfg).to(dev)
    old_opt = torch.optim.AdamW(old_model.parameters(), lr=cfg["lr"],
                                weight_decay=cfg["weight_decay"], fused=True)
    old_steps_sampler = OldSampler(data, cfg["seed"], dev, cfg["train_timesteps"])

    def old_steps(n: int = steps) -> None:
        for _ in range(n):
            s = k["old_step"] = (k["old_step"] + 1) % n_steps
            loss = old_model(*old_steps_sampler(0, s, batch))
            old_opt.zero_grad(set_to_none=True)
            loss.backward()
            old_opt.step()
            float(loss.detach())

    def new_sampler() -> None:
        for _ in range(SAMPLER_CALLS):
            s = k["new"] = (k["new"] + 1) % n_steps
            b = new.batch(1, s, 0, 1, batch)
            noise(cfg["seed"], 1, b.positions)
            _sync(dev)

    def old_sampler() -> None:
        for _ in range(SAMPLER_CALLS):
            s = k["old"] = (k["old"] + 1) % n_steps
            old(1, s, batch)
            _sync(dev)

    # t and epsilon alone, for the positions of the epoch's steps
    positions = [step_shard(num_pairs, 0, 1, batch, s)[0] for s in range(n_steps)]
    positions_dev = [p.to(dev) for p in positions]

    def new_noise() -> None:
        for i in range(SAMPLER_CALLS):
            noise(cfg["seed"], 1, positions_dev[i % n_steps])
            _sync(dev)

    def numpy_noise() -> None:
        for i in range(SAMPLER_CALLS):
            t_, eps_ = numpy_pair_noise(cfg["seed"], 1, positions[i % n_steps], dim,
                                        cfg["train_timesteps"])
            t_.to(dev), eps_.to(dev)
            _sync(dev)

    train_steps(warmup)
    bare_steps(warmup)
    old_steps(warmup)
    new_sampler()
    old_sampler()
    new_noise()
    numpy_noise()
    t_train, t_bare, t_old_step, t_new, t_old, t_noise, t_np_noise = _medians(
        [train_steps, bare_steps, old_steps, new_sampler, old_sampler, new_noise, numpy_noise],
        repeats, dev)
    step_s, bare_s = t_train / steps, t_bare / steps
    t_new, t_old = t_new / SAMPLER_CALLS, t_old / SAMPLER_CALLS
    data_share = min(1.0, t_new / step_s)
    return {"dim": dim, "batch": batch, "train_pairs_s": batch / step_s,
            "bare_pairs_s": batch / bare_s, "old_step_pairs_s": batch * steps / t_old_step,
            "data_pct": 100 * data_share,
            "net_pct": 100 * (1 - data_share), "sampler_ms": 1e3 * t_new,
            "old_sampler_ms": 1e3 * t_old, "noise_ms": 1e3 * t_noise / SAMPLER_CALLS,
            "numpy_noise_ms": 1e3 * t_np_noise / SAMPLER_CALLS, "steps": steps,
            "repeats": repeats}


def lines(r: dict) -> list[str]:
    """The report lines of one D (gpu_check.sh prints the same)."""
    return [
        f"D={r['dim']}, {r['batch']} pairs/step: train steady-state: {r['train_pairs_s']:,.0f} "
        f"pairs/s (data {r['data_pct']:.0f}%, net {r['net_pct']:.0f}%); bare network step "
        f"{r['bare_pairs_s']:,.0f} pairs/s (trainer / bare "
        f"{r['train_pairs_s'] / r['bare_pairs_s']:.2f}); old-style step "
        f"{r['old_step_pairs_s']:,.0f} pairs/s (trainer / old "
        f"{r['train_pairs_s'] / r['old_step_pairs_s']:.2f})",
        f"D={r['dim']}, {r['batch']} pairs/step: sampler {r['sampler_ms']:.2f} ms/step (old numpy "
        f"path {r['old_sampler_ms']:.2f} ms/step, {r['old_sampler_ms'] / r['sampler_ms']:.1f}x)",
        f"D={r['dim']}, {r['batch']} pairs/step: noise alone {r['noise_ms']:.2f} ms/step (numpy "
        f"draw {r['numpy_noise_ms']:.2f} ms/step, {r['numpy_noise_ms'] / r['noise_ms']:.1f}x)",
    ]


def run(dev: torch.device, dims: list[int], batch: int, steps: int, warmup: int, repeats: int,
        num_pairs: int) -> list[dict]:
    """:func:`bench_dim` for every D, in a scratch exp dir (config.yaml only)."""
    with tempfile.TemporaryDirectory() as tmp:
        return [bench_dim(d, batch, steps, warmup, repeats, num_pairs, dev, Path(tmp))
                for d in dims]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    p.add_argument("--dims", default="256,512")
    p.add_argument("--batch", type=int, default=1200, help="pairs per step")
    p.add_argument("--steps", type=int, default=20, help="steps per timed sample")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5, help="timed samples (median)")
    p.add_argument("--pairs", type=int, default=24000, help="synthetic training pairs")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1; 0: torch's default)")
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if dev.type == "cuda" and (dev.index or 0) >= count:
        print(f"ERROR (bench_train.py): --device {args.device}: this machine has {count} CUDA "
              "device(s); use --device cpu or an existing GPU", file=sys.stderr)
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} thread(s)"
    secs = "wall seconds" if dev.type == "cuda" else "CPU seconds of the process"
    print(f"# bench_train: {name}, torch {torch.__version__}, {args.steps} steps x "
          f"{args.repeats} samples after {args.warmup} warm-up steps, {args.pairs} pairs, "
          f"times in {secs}", flush=True)
    for r in run(dev, [int(d) for d in args.dims.split(",")], args.batch, args.steps,
                 args.warmup, args.repeats, args.pairs):
        print("\n".join(lines(r)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
