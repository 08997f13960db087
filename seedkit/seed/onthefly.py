"""On-the-fly SEED training pairs: the frozen backbone in the training loop, as the original runs.

Every step draws U = ``batch_size / P`` utterances of a clean data dir (P pairs per draw: the
corrupted copies ``music``, ``noise``, ``reverb`` -> their clean crop, plus ``clean -> clean``
when ``add_identity_pairs``; official: 1200 = 300 utterances x 4). Each draw gets a *fresh* crop
and fresh corruptions, rendered by :class:`seedkit.render.Renderer` (the code behind the cached
mode's wav files and render-on-extract), embedded without grad by the backbone, and trained on.

Determinism. Draw i of global step g (g = epoch * steps_per_epoch + step) is draw number
q = g * U + i of the run. Its utterance is position ``q mod n`` of the permutation of the n clean
utterances drawn for pass ``q div n`` (every utterance once per pass, like the original's epoch),
and its crop and corruptions are round ``k = q + 1`` of that utterance
(:meth:`seedkit.augment.PairPlanner.plan`, seeded by ``(seed, utterance, k)``): no two draws of a
run share a round, so every draw is fresh. Pair j of draw i sits at position ``step * B + i * P +
j`` of the epoch, from which t and epsilon are drawn (:func:`seedkit.seed.sampling.pair_noise`).
Everything is a function of ``(seed, step, position)``: a resumed run equals an uninterrupted
one, and W processes draw the same global batch as one: rank r takes draws r, r + W, ...; its mean
loss is scaled by ``W * (its draws) / U`` so that DDP's average is the mean over the step.

An epoch is ``steps_per_epoch`` steps (default: one pass, ``ceil(n / U)``); dev EER, checkpoints
and ``final.pt`` work as in the cached mode (:mod:`seedkit.seed.train`). A resume is refused when
the data dirs, the backbone (conf and weights), the crop length or the epoch length changed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from seedkit.augment_policy import load_policy
from seedkit.cli import option_names
from seedkit.errors import SeedkitError
from seedkit.rng import mix_seed
from seedkit.seed.batches import Batch
from seedkit.seed.checkpoint import weights_digest
from seedkit.seed.distributed import DistInfo
from seedkit.seed.train import train_from_source

log = logging.getLogger(__name__)

#: the copies of one draw, in pair order (``clean`` first when identity pairs are on)
COPY_KINDS = ("music", "noise", "reverb")
#: the options of this mode, as the command line names them
OPTIONS = ("--train-data", "--musan", "--rirs", "--backbone-config", "--backbone-checkpoint",
           "--allow-random-backbone", "--crop-sec", "--steps-per-epoch", "--embed-batch-size",
           "--render-threads", "--augment-conf")


@dataclass(frozen=True)
class OnTheFlyOptions:
    """Where the pairs of the on-the-fly mode come from (the command line's options)."""

    train_data: str
    musan: str
    rirs: str
    backbone_config: str
    backbone_checkpoint: Optional[str] = None
    allow_random_backbone: bool = False
    crop_sec: float = 2.015
    steps_per_epoch: Optional[int] = None
    embed_batch_size: Optional[int] = None
    render_threads: int = 1
    augment_conf: Optional[str] = None  # augmentation policy YAML (None: the SEED release's)


def check_modes(on_the_fly: bool, cached: Mapping[str, Any], onthefly: Mapping[str, Any]
                ) -> Optional[OnTheFlyOptions]:
    """Check that the command line picks one mode with what it needs; the on-the-fly options
    (None: cached mode). ``cached``/``onthefly``: option name -> value (None or False when not
    given), e.g. ``{"--clean": ..., "--noisy": ..., "--pairs": ...}``."""
    given_cached = [k for k, v in cached.items() if v not in (None, False)]
    given_otf = [k for k, v in onthefly.items() if v not in (None, False)]
    if not on_the_fly:
        if given_otf:
            raise SeedkitError(f"{', '.join(given_otf)}: only with --on-the-fly; add "
                               "--on-the-fly, or train on cached pairs with --clean/--noisy/"
                               "--pairs")
        missing = [k for k in cached if k not in given_cached]
        if missing:
            raise SeedkitError(f"cached training needs --clean, --noisy and --pairs (missing: "
                               f"{', '.join(missing)}); or draw the pairs on the fly with "
                               "--on-the-fly --train-data DIR --musan DIR --rirs DIR "
                               "--backbone-config YAML")
        return None
    if given_cached:
        raise SeedkitError(f"--on-the-fly draws its pairs from --train-data; "
                           f"{', '.join(given_cached)} (cached pairs) cannot go with it: drop "
                           "them, or drop --on-the-fly")
    required = ("--train-data", "--musan", "--rirs", "--backbone-config")
    missing = [k for k in required if onthefly.get(k) in (None, False)]
    if missing:
        raise SeedkitError(f"--on-the-fly needs {', '.join(required)} (missing: "
                           f"{', '.join(missing)})")
    for name, low, high in (("--steps-per-epoch", 1, 2**31 - 1),
                            ("--embed-batch-size", 1, 2**20), ("--render-threads", 0, 256)):
        v = onthefly.get(name)
        if v is not None and not low <= v <= high:
            raise SeedkitError(f"{name} must be in {low}..{high}, got {v}")
    crop = onthefly.get("--crop-sec")
    threads = onthefly.get("--render-threads")
    return OnTheFlyOptions(
        str(onthefly["--train-data"]), str(onthefly["--musan"]), str(onthefly["--rirs"]),
        str(onthefly["--backbone-config"]), onthefly.get("--backbone-checkpoint"),
        bool(onthefly.get("--allow-random-backbone")), 2.015 if crop is None else float(crop),
        onthefly.get("--steps-per-epoch"), onthefly.get("--embed-batch-size"),
        1 if threads is None else int(threads), onthefly.get("--augment-conf"))


def _file_digest(*paths: Path) -> str:
    """sha256 over the named files that exist (a data dir's tables)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        if p.is_file():
            h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:12]


def _dir_digest(path: Path) -> str:
    return _file_digest(*(path / n for n in ("wav.scp", "utt2spk", "segments")))


class OnTheFlyPairs:
    """A :class:`seedkit.seed.batches.BatchSource` that renders and embeds every step's pairs."""

    options = ", ".join(OPTIONS[:5] + OPTIONS[6:8])

    def __init__(self, opts: OnTheFlyOptions, cfg: Mapping[str, Any], info: DistInfo):
        # imported here: the render and backbone stack adds 3-4 s (measured at load ~5) to every
        # seedkit-train-seed start, and cached-pair training never uses it
        from seedkit.augment import PairPlanner
        from seedkit.extract import build_embedder
        from seedkit.models.config import batch_size_for, load_backbone_config

        self.opts, self.seed = opts, int(cfg["seed"])
        self.identity = bool(cfg["add_identity_pairs"])
        # the copies of every draw: the policy's pair types (the release's: COPY_KINDS)
        self.policy = load_policy(opts.augment_conf)
        self.kinds = (("clean",) if self.identity else ()) + self.policy.names
        self.split(cfg["batch_size"], info.world)  # before the (slow) backbone is built
        bcfg = load_backbone_config(opts.backbone_config)
        self.planner = PairPlanner(opts.train_data, opts.musan, opts.rirs, opts.crop_sec,
                                   seed=self.seed, sample_rate=bcfg.sample_rate, fresh_crops=True,
                                   policy=self.policy)
        self.renderer = self.planner.renderer()
        self.utts = self.planner.utterances
        with option_names({"checkpoint": "--backbone-checkpoint",
                           "allow_random_weights": "--allow-random-backbone"}):
            self.embedder = build_embedder(bcfg, opts.backbone_checkpoint, str(info.device),
                                           opts.allow_random_backbone)
        length = self.planner.length
        if length < self.embedder.min_samples:
            raise SeedkitError(f"--crop-sec {opts.crop_sec} gives {length} samples; "
                               f"{bcfg.model} needs at least {self.embedder.min_samples}: give a "
                               "longer --crop-sec", opts.backbone_config)
        self.embed_batch = opts.embed_batch_size or batch_size_for(bcfg, info.device.type)
        self.device = info.device
        self.dim = int(bcfg.embed_dim or self.embedder.model.embed_dim)
        self.model_name = bcfg.model
        self._fingerprint = self._make_fingerprint(bcfg)
        self._perm: dict[int, torch.Tensor] = {}
        self._timers = {"render": 0.0, "embed": 0.0}
        self._pool = (ThreadPoolExecutor(opts.render_threads, thread_name_prefix="render")
                      if opts.render_threads > 0 else None)
        self._ahead: dict[tuple[int, int, int, int], list[Future]] = {}

    def _make_fingerprint(self, bcfg) -> str:
        """``name=hash`` parts: the data dirs, the backbone (conf and weights), crop, epoch."""
        o = self.opts
        backbone = hashlib.sha256(repr((bcfg.model, sorted(bcfg.model_args.items()),
                                        bcfg.sample_rate, bcfg.input_scale)).encode())
        backbone.update(weights_digest(self.embedder.model).encode())
        parts = {"--train-data": _dir_digest(Path(o.train_data)),
                 "--musan": _dir_digest(Path(o.musan)), "--rirs": _dir_digest(Path(o.rirs)),
                 "--backbone-config/--backbone-checkpoint": backbone.hexdigest()[:12],
                 "--crop-sec": str(self.planner.length),
                 "--steps-per-epoch": str(self.opts.steps_per_epoch or "auto")}
        if not self.policy.is_release() or self.policy.rounds != 1:
            parts["--augment-conf"] = self.policy.digest()
        return "onthefly;" + ";".join(f"{k}={v}" for k, v in parts.items())

    # ----------------------------------------------------------------- BatchSource
    @property
    def pairs_per_draw(self) -> int:
        return len(self.kinds)

    def describe(self) -> str:
        return (f"pairs drawn on the fly from {len(self.utts)} utterances of "
                f"{self.opts.train_data} ({self.pairs_per_draw} per draw: "
                f"{', '.join(self.kinds)} -> clean; a fresh {self.planner.length}-sample crop "
                f"and corruptions per draw), backbone {self.model_name} on {self.device}")

    def fingerprint(self) -> str:
        return self._fingerprint

    def split(self, batch_size: int, world: int) -> int:
        """Utterance draws per step; raises unless ``batch_size`` is a whole number of draws and
        every one of the ``world`` processes gets at least one."""
        u = self.draws_per_step(batch_size)
        if u < world:
            raise SeedkitError(f"batch_size {batch_size} gives {u} utterance draw(s) per step, "
                               f"fewer than the {world} processes; raise batch_size to at least "
                               f"{world * self.pairs_per_draw} or use fewer processes")
        return u

    def draws_per_step(self, batch_size: int) -> int:
        p = self.pairs_per_draw
        if batch_size % p:
            what = "clean, music, noise, reverb" if self.identity else \
                "music, noise, reverb (add_identity_pairs: false)"
            raise SeedkitError(f"batch_size {batch_size} is not a multiple of the {p} pairs of "
                               f"one draw ({what}); on the fly it must be, e.g. "
                               f"{max(p, batch_size // p * p)}")
        return batch_size // p

    def layout(self, batch_size: int, world: int) -> tuple[int, str]:
        u = self.split(batch_size, world)
        steps = self.opts.steps_per_epoch or math.ceil(len(self.utts) / u)
        share = f"{u // world}" if u % world == 0 else f"{u // world}-{u // world + 1}"
        return steps, f"{u} utterance draws, {share} per process"

    def draws(self, global_step: int, rank: int, world: int, batch_size: int
              ) -> list[tuple[int, str, int]]:
        """``(index in the step, utterance, round)`` of the draws ``rank`` makes at
        ``global_step``."""
        u = self.draws_per_step(batch_size)
        n = len(self.utts)
        out = []
        for i in range(rank, u, world):
            q = global_step * u + i
            out.append((i, self.utts[int(self._permutation(q // n)[q % n])], q + 1))
        return out

    def _permutation(self, n_pass: int) -> torch.Tensor:
        if n_pass not in self._perm:
            if len(self._perm) > 4:
                self._perm.clear()
            g = torch.Generator().manual_seed(mix_seed(self.seed, 4, n_pass))
            self._perm[n_pass] = torch.randperm(len(self.utts), generator=g)
        return self._perm[n_pass]

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        """Embed equal-length waveforms, ``embed_batch`` per forward pass: ``[len, D]``."""
        crops = np.stack(waves)
        return np.concatenate([self.embedder.embed(crops[i:i + self.embed_batch])
                               for i in range(0, len(crops), self.embed_batch)])

    def render(self, draws: list[tuple[int, str, int]]) -> list[np.ndarray]:
        """The clean crop and its copies (one per pair type of the policy; the release's: music,
        noise, reverb) of every draw, in order."""
        waves = []
        for _, utt, k in draws:
            waves += [self.renderer.render(e) for e in self.planner.plan(utt, k)]
        return waves

    def _submit(self, key: tuple[int, int, int, int]) -> list[Future]:
        """Render the draws of ``key = (global step, rank, world, batch size)`` in the pool."""
        assert self._pool is not None
        return [self._pool.submit(self.render, [d]) for d in self.draws(*key)]

    def _rendered(self, key: tuple[int, int, int, int]) -> list[np.ndarray]:
        """The waveforms of step ``key``'s draws (rendered ahead while the previous step trained,
        when there are render threads); then starts rendering the next step."""
        if self._pool is None:
            return self.render(self.draws(*key))
        futures = self._ahead.pop(key, None) or self._submit(key)
        self._ahead.clear()
        g, rank, world, batch_size = key
        nxt = (g + 1, rank, world, batch_size)
        self._ahead[nxt] = self._submit(nxt)
        return [w for f in futures for w in f.result()]

    def close(self) -> None:
        """Stop the render threads (what they render ahead is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._ahead.clear()

    def batch(self, epoch: int, step: int, rank: int, world: int, batch_size: int) -> Batch:
        spe = self.layout(batch_size, world)[0]
        g = epoch * spe + step
        draws = self.draws(g, rank, world, batch_size)
        t0 = time.perf_counter()
        waves = self._rendered((g, rank, world, batch_size))
        t1 = time.perf_counter()
        emb = torch.from_numpy(self.embed(waves)).view(len(draws), 1 + len(self.policy.types),
                                                       -1)
        t2 = time.perf_counter()
        self._timers["render"] += t1 - t0
        self._timers["embed"] += t2 - t1
        first = 0 if self.identity else 1
        p = self.pairs_per_draw
        x_start = emb[:, first:].reshape(len(draws) * p, -1)
        x_target = emb[:, :1].expand(-1, p, -1).reshape(len(draws) * p, -1)
        index = torch.tensor([i for i, _, _ in draws], dtype=torch.int64)
        positions = (step * batch_size + index[:, None] * p + torch.arange(p)[None, :]).reshape(-1)
        u = batch_size // p
        scale = 1.0 if u % world == 0 else world * len(draws) / u
        return Batch(x_start.to(self.device), x_target.to(self.device), positions, scale,
                     batch_size)

    def timers(self) -> dict[str, float]:
        return dict(self._timers)


def train_seed_onthefly(cfg: dict[str, Any], opts: OnTheFlyOptions, exp_dir: str,
                        resume: bool = False, device: str = "auto",
                        dev_trials: Optional[str] = None, dev_enroll: Optional[str] = None,
                        dev_test: Optional[str] = None,
                        config_comment: Optional[str] = None) -> Path:
    """Train SEED on pairs drawn on the fly (see the module docstring); returns ``final.pt``."""

    def source(cfg0: Mapping[str, Any], info: DistInfo) -> OnTheFlyPairs:
        return OnTheFlyPairs(opts, cfg0, info)

    return train_from_source(cfg, source, exp_dir, resume=resume, device=device,
                             dev_trials=dev_trials, dev_enroll=dev_enroll, dev_test=dev_test,
                             config_comment=config_comment)


__all__ = ["OnTheFlyOptions", "OnTheFlyPairs", "check_modes", "train_seed_onthefly"]
