"""SEED training: one process or ``torchrun`` (DDP), resumable.

The pairs of every step come from a :class:`~seedkit.seed.batches.BatchSource`:
:class:`~seedkit.seed.batches.CachedPairs` (embeddings extracted beforehand, :func:`train_seed`)
or pairs drawn on the fly with the backbone in the loop (:mod:`seedkit.seed.onthefly`).
:class:`Trainer` runs epochs of steps (:meth:`Trainer.run` -> :meth:`Trainer.run_epoch` ->
:meth:`Trainer.train_step`), scores the dev set at epoch ends and writes checkpoints and
``final.pt``. What follows describes the cached source; the on-the-fly one keeps the same
guarantees (its module docstring).

Exp dir layout::

  <exp>/config.yaml               merged config (everything needed to rebuild the model)
  <exp>/checkpoints/ckpt-<step>.pt   resumable: model, optimiser, EMA, step/epoch, RNG states;
                                  written every checkpoint_interval steps and at the end
  <exp>/checkpoints/best.pt       best dev-EER weights (when a dev trial list is given)
  <exp>/final.pt                  the weights chosen by ``select`` (last | best_dev_eer)
  <exp>/log/train.log             the log (appended to on resume)
  <exp>/log/rank<r>.weights.sha256   hash of each rank's final weights (DDP agreement check)

Determinism. Which pairs a step trains, in which order and with which t and epsilon, is a pure
function of ``(seed, epoch, position)`` (:mod:`seedkit.seed.sampling`), so a run resumed from a
checkpoint computes the same bytes as an uninterrupted one (single process on CPU; also under DDP
with the same world size). The global torch / numpy / python RNG states of every rank are saved
too (dropout uses torch's, one stream per rank).

World size. With ``dropout: 0`` the weights of W processes equal those of one process up to float
summation order (tested: 1 vs 2 processes, 24 steps, max abs weight difference below 1e-5; Adam
lets the rounding differences grow with the steps: 7.8e-3 after the mini recipe's 660). Dropout
masks are drawn per rank, so with dropout > 0 the runs differ statistically, not in expectation.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from seedkit.errors import SeedkitError
from seedkit.fileio import atomic_text_writer
from seedkit.rng import mix_seed
from seedkit.seed.batches import BatchSource, CachedPairs, SourceFactory
from seedkit.seed.checkpoint import (
    FORMAT,
    list_checkpoints,
    model_file,
    read_checkpoint,
    read_resume_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
    weights_digest,
)
from seedkit.seed.config import config_hash, dump_config, resolve_dims
from seedkit.seed.data import load_pairs
from seedkit.seed.devscore import DevScorer, DevSet, load_dev
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.distributed import DistInfo, all_gather, setup_distributed
from seedkit.seed.sampling import DeviceNoise

log = logging.getLogger(__name__)

# Debug hook for tests: sleep this many seconds after every optimiser step (slows a run down so
# that a test can SIGKILL it part-way). It changes no numbers.
STEP_SLEEP_ENV = "SEEDKIT_TRAIN_STEP_SLEEP"


class EMA:
    """Exponential moving average of the network parameters (float32 copies)."""

    def __init__(self, net: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone().float() for k, v in net.state_dict().items()}
        self._shadow = list(self.shadow.values())

    @torch.no_grad()
    def update(self, net: torch.nn.Module) -> None:
        """shadow = shadow * decay + weights * (1 - decay), for every tensor in two kernels (the
        same arithmetic as one ``mul_().add_()`` per tensor)."""
        live = [v.detach().float() for v in net.state_dict().values()]
        torch._foreach_mul_(self._shadow, self.decay)
        torch._foreach_add_(self._shadow, live, alpha=1.0 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.shadow.items()}

    def load_state_dict(self, sd: Mapping[str, torch.Tensor]) -> None:
        for k in self.shadow:
            self.shadow[k].copy_(sd[k])


def _setup_log(exp: Path, info: DistInfo) -> Optional[logging.Handler]:
    if not info.is_main:
        return None
    (exp / "log").mkdir(parents=True, exist_ok=True)
    h = logging.FileHandler(exp / "log" / "train.log", encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    h.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(h)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return h


def train_seed(cfg: dict[str, Any], clean: str, noisy: str, pairs: str, exp_dir: str,
               resume: bool = False, device: str = "auto", dev_trials: Optional[str] = None,
               dev_enroll: Optional[str] = None, dev_test: Optional[str] = None,
               config_comment: Optional[str] = None) -> Path:
    """Train SEED on cached pairs; returns the path of ``final.pt``. ``cfg`` is a merged,
    unresolved config. ``config_comment`` (comment lines: a release config's key mapping) heads
    config.yaml."""

    def cached(cfg0: Mapping[str, Any], info: DistInfo) -> BatchSource:
        data = load_pairs(clean, noisy, pairs, cfg0["add_identity_pairs"])
        return CachedPairs(data, cfg0["seed"], info.device)

    return train_from_source(cfg, cached, exp_dir, resume=resume, device=device,
                             dev_trials=dev_trials, dev_enroll=dev_enroll, dev_test=dev_test,
                             config_comment=config_comment)


def train_from_source(cfg: dict[str, Any], make_source: SourceFactory, exp_dir: str,
                      resume: bool = False, device: str = "auto",
                      dev_trials: Optional[str] = None, dev_enroll: Optional[str] = None,
                      dev_test: Optional[str] = None,
                      config_comment: Optional[str] = None) -> Path:
    """Train SEED on the pairs of ``make_source(cfg, dist_info)``; returns ``final.pt``'s path.

    Joins the process group (under torchrun), checks the options, then runs
    :class:`Trainer` to the end."""
    info = setup_distributed(device)
    exp = Path(exp_dir)
    handler = None
    source: Optional[BatchSource] = None
    try:
        exp.mkdir(parents=True, exist_ok=True)
        handler = _setup_log(exp, info)
        _check_dev_options(cfg, dev_trials, dev_enroll)
        source = make_source(cfg, info)
        dev = load_dev(dev_trials, dev_enroll, dev_test or dev_enroll) if dev_trials else None
        trainer = Trainer(cfg, source, exp, info, dev, resume, config_comment)
        trainer.run()
        return trainer.finish()
    finally:
        if source is not None:
            source.close()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        if info.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _check_dev_options(cfg: Mapping[str, Any], dev_trials: Optional[str],
                       dev_enroll: Optional[str]) -> None:
    if bool(dev_trials) != bool(dev_enroll):
        raise SeedkitError("--dev-trials and --dev-enroll go together (--dev-test defaults to "
                           "--dev-enroll)")
    if cfg["select"] == "best_dev_eer" and not dev_trials:
        raise SeedkitError("select: best_dev_eer needs --dev-trials and --dev-enroll; give them "
                           "or set select: last")


class Meter:
    """Loss, pairs/s and where the time went, logged every ``log_interval`` steps.

    The data / net split is host time: on a GPU, whose kernels run asynchronously, it shows
    where the host waits rather than where the device works; pairs/s counts the device's time
    (the loss read at a log line waits for it)."""

    def __init__(self, source: BatchSource, bar: tqdm, device: torch.device):
        self.source, self.bar = source, bar
        self.t_run = self.t_log = time.perf_counter()
        self.pairs_run = self.pairs_log = 0
        # summed on the device in float64 (the sum of Python floats it replaces, without a
        # host sync per step); read at log intervals
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.loss_n, self.steps_run = 0, 0
        self.data_s = self.net_s = 0.0
        self.base = dict(source.timers())

    def add(self, loss: torch.Tensor, pairs: int, data_s: float, net_s: float) -> None:
        self.loss_sum += loss
        self.loss_n += 1
        self.pairs_log += pairs
        self.pairs_run += pairs
        self.steps_run += 1
        self.data_s += data_s
        self.net_s += net_s
        self.bar.update(1)

    def time_split(self) -> str:
        """``data 40% (render 10%, embed 30%), net 60%`` since the last call."""
        timers = self.source.timers()
        busy = max(self.data_s + self.net_s, 1e-9)
        parts = [f"{k} {100 * (v - self.base.get(k, 0.0)) / busy:.0f}%"
                 for k, v in timers.items()]
        inner = f" ({', '.join(parts)})" if parts else ""
        text = f"data {100 * self.data_s / busy:.0f}%{inner}, net {100 * self.net_s / busy:.0f}%"
        self.base, self.data_s, self.net_s = dict(timers), 0.0, 0.0
        return text

    def log(self, step: int, epoch: int) -> None:
        mean = float(self.loss_sum) / max(self.loss_n, 1)  # waits for the device's steps
        now = time.perf_counter()
        rate = self.pairs_log / max(now - self.t_log, 1e-9)
        log.info("step %d epoch %d: loss %.5f, %.0f pairs/s; time: %s", step, epoch, mean, rate,
                 self.time_split())
        self.bar.set_postfix(loss=f"{mean:.4f}", pairs_s=f"{rate:.0f}")
        self.loss_sum.zero_()
        self.t_log, self.pairs_log, self.loss_n = now, 0, 0

    def summary(self) -> None:
        dt = time.perf_counter() - self.t_run
        if self.steps_run:
            log.info("trained %d steps in this process: %.1f s, %.0f pairs/s", self.steps_run,
                     dt, self.pairs_run / max(dt, 1e-9))


class Trainer:
    """One training run: the model, optimiser, EMA and progress of every rank.

    :meth:`run` trains epoch after epoch (:meth:`run_epoch`), scoring the dev set and writing
    checkpoints at the epoch ends; :meth:`finish` checks that the ranks agree and writes
    ``final.pt``."""

    def __init__(self, cfg0: Mapping[str, Any], source: BatchSource, exp: Path, info: DistInfo,
                 dev: Optional[DevSet], resume: bool, config_comment: Optional[str] = None):
        self.cfg = cfg = resolve_dims(cfg0, source.dim)
        self.source, self.exp, self.info, self.dev = source, exp, info, dev
        self.scorer: Optional[DevScorer] = None  # made at the first dev pass (rank 0)
        self.chash = config_hash(cfg)
        self.ckpt_dir = exp / "checkpoints"
        self.batch_size = cfg["batch_size"]
        self.steps_per_epoch, split = source.layout(self.batch_size, info.world)
        self.fingerprint = source.fingerprint()  # once per run: it hashes the whole table
        state = read_resume_state(self.ckpt_dir, resume, cfg, self.fingerprint, source.options)
        if info.is_main:
            with atomic_text_writer(exp / "config.yaml") as f:
                f.write((config_comment or "") + dump_config(cfg))
        log.info("SEED training: %s, D=%d, %d process(es) on %s, objective=%s, config hash %s",
                 source.describe(), source.dim, info.world, info.device, cfg["objective"],
                 self.chash)
        self._build_model()
        self.step, self.epoch, self.step_in_epoch = 0, 0, 0
        self.history: list[dict[str, Any]] = []
        self.best: Optional[dict[str, Any]] = None
        self.base_eer: Optional[float] = None
        if state is not None:
            self._restore(state)
        self.total = self.steps_per_epoch * cfg["epochs"]
        if cfg["max_steps"] is not None:
            self.total = min(self.total, cfg["max_steps"])
        log.info("%d step(s) per epoch of %d pairs/step (%s); %d epochs -> %d steps in all",
                 self.steps_per_epoch, self.batch_size, split, cfg["epochs"], self.total)
        self.sleep = float(os.environ.get(STEP_SLEEP_ENV, "0") or 0)

    # ----------------------------------------------------------------- set-up
    def _build_model(self) -> None:
        cfg, info = self.cfg, self.info
        torch.manual_seed(mix_seed(cfg["seed"], 0))  # initial weights: the same on every rank
        self.model = SeedDiffusion(cfg).to(info.device)
        sched = self.model.schedule  # its table on the device once, not copied at every step
        sched.alphas_cumprod = sched.alphas_cumprod.to(info.device)
        self.noise = DeviceNoise(self.model.embed_dim, sched.num_train_timesteps, info.device)
        # the global RNG (dropout) differs per rank from here on, like the data shards
        torch.manual_seed(mix_seed(cfg["seed"], 3, info.rank))
        self.net = self.model.net
        self.params = list(self.net.parameters())
        opt_cls = torch.optim.AdamW if cfg["optimizer"] == "adamw" else torch.optim.Adam
        hyper = dict(lr=cfg["lr"], betas=tuple(cfg["adam_betas"]), eps=cfg["adam_eps"],
                     weight_decay=cfg["weight_decay"])
        try:  # one fused kernel for every parameter (CPU and CUDA, torch >= 2.4): 8% of a
            # 1-thread CPU step at D=256 against the per-parameter loop; same update up to rounding
            self.opt = opt_cls(self.params, fused=True, **hyper)
        except (TypeError, RuntimeError, ValueError):
            self.opt = opt_cls(self.params, **hyper)
        self.ema = EMA(self.net, cfg["ema_decay"]) if cfg["ema_decay"] > 0 else None
        self.ddp_model: torch.nn.Module = self.model
        if info.enabled:
            self.ddp_model = DistributedDataParallel(
                self.model, device_ids=[info.device.index] if info.device.type == "cuda" else None)

    def _restore(self, state: Mapping[str, Any]) -> None:
        """Weights, optimiser, EMA, progress, dev history and this rank's RNG states."""
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.step_in_epoch = state["step_in_epoch"]
        self.history, self.best = state["dev_history"], state["best"]
        self.base_eer = state["baseline_dev_eer"]
        if state["world_size"] == self.info.world:
            set_rng_state(state["rng"][self.info.rank], self.info.device)
        else:
            log.warning("checkpoint was written by %d process(es), now %d: pair order, t and "
                        "epsilon do not depend on it, but float summation order and the dropout "
                        "RNG streams do, so the result equals an uninterrupted run only up to "
                        "rounding (and only with dropout 0)", state["world_size"], self.info.world)
        log.info("resumed from %s: step %d, epoch %d (+%d steps)", state["path"], self.step,
                 self.epoch, self.step_in_epoch)

    # ----------------------------------------------------------------- training
    def run(self) -> None:
        """Train until ``epochs`` (or ``max_steps``) are done; dev EER after every epoch;
        checkpoints every ``checkpoint_interval`` steps and at the end."""
        cfg = self.cfg
        self.ddp_model.train()
        bar = tqdm(total=self.total, initial=min(self.step, self.total),
                   disable=not self.info.is_main, file=sys.stderr, desc="SEED train",
                   unit="step", mininterval=1.0, dynamic_ncols=True)
        self.meter = Meter(self.source, bar, self.info.device)
        done = self.step >= self.total
        while not done and self.epoch < cfg["epochs"]:
            done = self.run_epoch()
            if self.step_in_epoch >= self.steps_per_epoch:
                self.run_dev()
                self.epoch += 1
                self.step_in_epoch = 0
                if done or self.epoch >= cfg["epochs"] or \
                        self.step % cfg["checkpoint_interval"] == 0:
                    self.save()
            elif done:
                self.save()
        bar.close()
        self.meter.summary()

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; True when the step budget ran out in it.
        A mid-epoch checkpoint every ``checkpoint_interval`` steps."""
        for s in range(self.step_in_epoch, self.steps_per_epoch):
            self.train_step(s)
            self.step_in_epoch = s + 1
            if self.step >= self.total:
                return True
            if self.step % self.cfg["checkpoint_interval"] == 0 and s + 1 < self.steps_per_epoch:
                self.save()
        self.step_in_epoch = self.steps_per_epoch
        return False

    def train_step(self, s: int) -> None:
        """One optimiser step on the pairs of step ``s`` of the current epoch."""
        cfg, dev = self.cfg, self.info.device
        t0 = time.perf_counter()
        b = self.source.batch(self.epoch, s, self.info.rank, self.info.world, self.batch_size)
        t, eps = self.noise(cfg["seed"], self.epoch, b.positions.to(dev))
        t1 = time.perf_counter()
        loss = self.ddp_model(b.x_start, b.x_target, t, eps)
        self.opt.zero_grad(set_to_none=True)
        (loss * b.scale if b.scale != 1.0 else loss).backward()
        if cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(self.params, cfg["grad_clip"])
        self.opt.step()
        if self.ema is not None:
            self.ema.update(self.net)
        self.step += 1
        self.meter.add(loss.detach(), b.step_pairs, t1 - t0, time.perf_counter() - t1)
        if self.step % cfg["log_interval"] == 0 or self.step == self.total:
            self.meter.log(self.step, self.epoch)
        if self.sleep:
            time.sleep(self.sleep)

    # ----------------------------------------------------------------- dev, checkpoints
    def eval_weights(self) -> dict[str, torch.Tensor]:
        return self.ema.state_dict() if self.ema is not None else self.net.state_dict()

    def run_dev(self) -> None:
        """Dev EER of the current (EMA) weights; best.pt when it improved (rank 0 only)."""
        dev, cfg, ep = self.dev, self.cfg, self.epoch
        if dev is None or not self.info.is_main:
            return
        if self.scorer is None:
            self.scorer = DevScorer(dev, cfg, self.info.device)
        if self.base_eer is None:
            self.base_eer = self.scorer.raw_eer()
            log.info("dev EER without enhancement: %.3f%%", self.base_eer)
        eer = self.scorer(self.eval_weights())
        self.history.append({"epoch": ep, "step": self.step, "eer": eer})
        improved = self.best is None or eer < self.best["eer"]
        log.info("epoch %d step %d: dev EER %.3f%% (raw %.3f%%)%s", ep, self.step, eer,
                 self.base_eer, " best so far" if improved else "")
        if improved:
            self.best = {"eer": eer, "step": self.step, "epoch": ep}
            save_checkpoint(model_file(cfg, self.eval_weights(), self.step, ep, "best_dev_eer",
                                        eer), self.ckpt_dir / "best.pt")

    def save(self) -> None:
        """A resumable checkpoint at the current position (every rank's RNG states)."""
        rngs = all_gather(rng_state(self.info.device), self.info)
        if not self.info.is_main:
            return
        obj = {"format": FORMAT, "kind": "train", "config": dict(self.cfg),
               "config_hash": self.chash, "data_fingerprint": self.fingerprint,
               "world_size": self.info.world,
               "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
               "optimizer": self.opt.state_dict(),
               "ema": self.ema.state_dict() if self.ema is not None else None,
               "step": self.step, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
               "rng": rngs, "dev_history": self.history, "best": self.best,
               "baseline_dev_eer": self.base_eer}
        save_checkpoint(obj, self.ckpt_dir / f"ckpt-{self.step:09d}.pt")
        for _, old in list_checkpoints(self.ckpt_dir)[:-self.cfg["keep_checkpoints"]]:
            old.unlink(missing_ok=True)
        log.debug("checkpoint at step %d", self.step)

    def finish(self) -> Path:
        """Check that all ranks hold the same weights; write ``final.pt`` by ``select``."""
        info, exp = self.info, self.exp
        digest = weights_digest(self.net)
        digests = all_gather(digest, info)
        (exp / "log").mkdir(parents=True, exist_ok=True)
        with atomic_text_writer(exp / "log" / f"rank{info.rank}.weights.sha256") as f:
            f.write(digest + "\n")
        if info.is_main:
            if len(set(digests)) != 1:
                raise SeedkitError(f"the {info.world} processes ended with different weights "
                                   f"({digests}); this is a bug, please report it")
            if info.enabled:
                log.info("weights identical on all %d ranks (sha256 %s)", info.world,
                         digest[:16])
            save_checkpoint(self._final_file(), exp / "final.pt")
        if info.enabled:
            dist.barrier()
        return exp / "final.pt"

    def _final_file(self) -> dict[str, Any]:
        cfg, best, history = self.cfg, self.best, self.history
        if cfg["select"] == "best_dev_eer":
            if best is None:
                raise SeedkitError("select: best_dev_eer but no dev EER was computed (no epoch "
                                   "finished); train at least one epoch or select: last")
            final = read_checkpoint(self.ckpt_dir / "best.pt")
            log.info("final.pt = best dev EER %.3f%% at epoch %d step %d", best["eer"],
                     best["epoch"], best["step"])
        else:
            last_eer = history[-1]["eer"] if history and history[-1]["step"] == self.step \
                else None
            final = model_file(cfg, self.eval_weights(), self.step, self.epoch, "last",
                                last_eer)
            log.info("final.pt = weights after step %d%s", self.step,
                     " (EMA)" if self.ema is not None else "")
        final["dev_history"] = history
        final["baseline_dev_eer"] = self.base_eer
        return final
