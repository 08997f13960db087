"""SEED training: one process or ``torchrun`` (DDP), resumable.

The pairs of every step come from a :class:`BatchSource`: :class:`CachedPairs` (embeddings
extracted beforehand, :func:`train_seed`) or pairs drawn on the fly with the backbone in the loop
(:mod:`seedkit.seed.onthefly`). :class:`Trainer` runs epochs of steps (:meth:`Trainer.run` ->
:meth:`Trainer.run_epoch` -> :meth:`Trainer.train_step`), scores the dev set at epoch ends and
writes checkpoints and ``final.pt``. What follows describes the cached source; the on-the-fly one
keeps the same guarantees (its module docstring).

Exp dir layout::

  <exp>/config.yaml               merged config (everything needed to rebuild the model)
  <exp>/checkpoints/ckpt-<step>.pt   resumable: model, optimiser, EMA, step/epoch, RNG states;
                                  written every checkpoint_interval steps and at the end
  <exp>/checkpoints/best.pt       best dev-EER weights (when a dev trial list is given)
  <exp>/final.pt                  the weights chosen by ``select`` (last | best_dev_eer)
  <exp>/log/train.log             the log (appended to on resume)
  <exp>/log/rank<r>.weights.sha256   hash of each rank's final weights (DDP agreement check)

Determinism. The pair order of epoch e is a permutation drawn from ``(seed, e)``. t and epsilon
of a pair are a pure function of ``(seed, e, j)``, j the pair's position in that order
(:func:`pair_noise`: a counter-based hash, vectorised over the batch), not of the rank or the step
that trains it. Nothing therefore depends on how many steps ran in this process: a run resumed from
a checkpoint computes the same bytes as an uninterrupted one (single process on CPU; also under DDP
with the same world size). The global torch / numpy / python RNG states of every rank are saved
too (dropout uses torch's, one stream per rank).

World size. Global step s of epoch e trains the pairs at positions [s*B, s*B + B) of the epoch
order (B = ``batch_size``), whatever the number of processes W: rank r takes positions
r, r+W, r+2W, ... (``DistributedSampler``'s sharding), ``B / W`` per step, and DDP averages the
gradients. Each rank's loss is the mean over its elements, so the average is the mean over the
global batch, as in one process. At the end of an epoch whose size n is not a multiple of W the
order is padded to a multiple of W with repeated pairs (as ``DistributedSampler`` does); the
padded slots are dropped from the loss and each rank's loss is scaled by
``W * (its real pairs) / (real pairs of the step)``, so the padded step too averages to the mean
over exactly the pairs one process would train. With ``dropout: 0`` the weights of W processes
therefore equal those of one process up to float summation order (tested: 1 vs 2 processes,
24 steps, max abs weight difference below 1e-5; Adam lets the rounding differences grow with the
steps: 7.8e-3 after the mini recipe's 660). Dropout masks are drawn per rank, so with dropout > 0
the runs differ statistically, not in expectation.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from seedkit.device import parse_device
from seedkit.errors import SeedkitError
from seedkit.fileio import atomic_text_writer
from seedkit.seed.checkpoint import FORMAT, read_checkpoint, save_checkpoint
from seedkit.seed.config import config_diff, config_hash, dump_config
from seedkit.seed.data import PairSet, load_pairs
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.enhance import Enhancer

log = logging.getLogger(__name__)

CKPT_RE = re.compile(r"^ckpt-(\d{9})\.pt$")
# Debug hook for tests: sleep this many seconds after every optimiser step (slows a run down so
# that a test can SIGKILL it part-way). It changes no numbers.
STEP_SLEEP_ENV = "SEEDKIT_TRAIN_STEP_SLEEP"


# --------------------------------------------------------------------------- distributed
@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup_distributed(device: str = "auto") -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); pick the device.

    ``device``: auto (cuda if available, else cpu), cpu, cuda or cuda:N. Under torchrun with
    CUDA each rank uses ``cuda:LOCAL_RANK`` and NCCL; on CPU gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = parse_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank if world > 1 else 0)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local_rank, dev)


def _all_gather(obj: Any, info: DistInfo) -> list[Any]:
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


# --------------------------------------------------------------------------- RNG helpers
def mix_seed(*parts: int) -> int:
    h = hashlib.sha256(b"seedkit-train\0" + b"\0".join(str(int(p)).encode() for p in parts))
    return int.from_bytes(h.digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def epoch_order(num_pairs: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(mix_seed(seed, 1, epoch))
    return torch.randperm(num_pairs, generator=g)


def rank_positions(num_pairs: int, rank: int, world: int) -> torch.Tensor:
    """Positions in the padded epoch order held by ``rank`` (``DistributedSampler``-style).

    The order is padded to a multiple of ``world``; a position j >= ``num_pairs`` is a padded slot
    holding the pair at position ``j % num_pairs``.
    """
    total = math.ceil(num_pairs / world) * world
    return torch.arange(rank, total, world)


def step_shard(num_pairs: int, rank: int, world: int, batch_size: int,
               step: int) -> tuple[torch.Tensor, float]:
    """Positions (in the epoch order) that ``rank`` trains at step ``step`` of an epoch, and the
    factor its mean loss is multiplied by.

    Global step s covers positions [s*B, s*B + B) of the order padded to a multiple of ``world``;
    rank r takes s*B + r, s*B + r + W, ... (``rank_positions``). Padded slots (>= ``num_pairs``)
    are dropped and the loss scaled by W * (real pairs here) / (real pairs of the step), so DDP's
    average of the ranks' losses is the mean over the step's real pairs. A rank left with no real
    pair keeps one padded slot with factor 0 (it must still join the gradient all-reduce).
    """
    total = math.ceil(num_pairs / world) * world
    start = step * batch_size
    end = min(start + batch_size, total)
    pos = torch.arange(start + rank, end, world)
    if end <= num_pairs:  # no padded slot in this step: every rank holds (end - start) / W pairs
        return pos, 1.0
    real = pos < num_pairs
    n_real = int(real.sum())
    n_step = num_pairs - start
    if n_real == 0:
        return pos[:1], 0.0
    return pos[real], world * n_real / n_step


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (wraps modulo 2**64, as intended)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def pair_noise(seed: int, epoch: int, positions: torch.Tensor, dim: int,
               num_timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """t ~ U{0..T-1} and eps ~ N(0, I_dim) of the pairs at ``positions`` of epoch ``epoch``.

    A pure function of ``(seed, epoch, position)``, computed for the whole batch at once (numpy,
    no loop over pairs): the pair's key is splitmix64(position * golden + k_e), k_e a sha256 of
    (seed, epoch); its j-th 64-bit word is splitmix64(key + (j + 1) * golden), a splitmix64
    stream. Word 0 gives t (its top 32 bits, multiply-shift); each further word gives two
    normals by Box-Muller in float32, u1 = (2 * (23 high bits) + 1) / 2**24 in (0, 1) and
    u2 = (24 low bits) / 2**24 (|eps| <= 5.8). Returns ``t`` (int64, [n]) and ``eps``
    (float32, [n, dim]).
    """
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


def _rng_state(dev: torch.device) -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                  int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev)
    return state


def _set_rng_state(state: Mapping[str, Any], dev: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    if dev.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], dev)


# --------------------------------------------------------------------------- EMA
class EMA:
    """Exponential moving average of the network parameters (float32 copies)."""

    def __init__(self, net: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone().float() for k, v in net.state_dict().items()}

    @torch.no_grad()
    def update(self, net: torch.nn.Module) -> None:
        for k, v in net.state_dict().items():
            self.shadow[k].mul_(self.decay).add_(v.detach().float(), alpha=1.0 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.shadow.items()}

    def load_state_dict(self, sd: Mapping[str, torch.Tensor]) -> None:
        for k in self.shadow:
            self.shadow[k].copy_(sd[k])


# --------------------------------------------------------------------------- dev scoring
@dataclass
class DevSet:
    trials: list
    labels: np.ndarray
    enroll: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    where: str


def load_dev(trials_path: str, enroll_rspec: str, test_rspec: str) -> DevSet:
    """Read a dev trial list and its embeddings; only keys used by trials are kept."""
    from seedkit.data.trials import read_trials  # noqa: PLC0415
    from seedkit.embio import read_embeddings  # noqa: PLC0415

    trials = read_trials(trials_path)
    enroll = read_embeddings(enroll_rspec)
    test = enroll if test_rspec == enroll_rspec else read_embeddings(test_rspec)
    missing = [t for t in trials if t.enroll not in enroll or t.test not in test]
    if missing:
        first = ", ".join(f"{t.enroll} {t.test}" for t in missing[:5])
        raise SeedkitError(f"{len(missing)} dev trial(s) name keys without embeddings (first: "
                           f"{first}); give the matching --dev-enroll/--dev-test", trials_path)
    labels = np.array([t.target for t in trials], dtype=bool)
    if labels.all() or not labels.any():
        raise SeedkitError("dev trials need both target and nontarget trials to give an EER",
                           trials_path)
    e_keys = {t.enroll for t in trials}
    t_keys = {t.test for t in trials}
    return DevSet(trials, labels, {k: enroll[k] for k in e_keys}, {k: test[k] for k in t_keys},
                  trials_path)


def dev_eer(dev: DevSet, model: Optional[SeedDiffusion], device: torch.device, seed: int,
            batch_size: int) -> float:
    """Cosine-scored EER (%) of the dev trials, after enhancement with ``model`` (None: raw)."""
    from seedkit.scoring.metrics import compute_eer  # noqa: PLC0415

    enroll, test = dev.enroll, dev.test
    if model is not None:
        enh = Enhancer(model, str(device), seed=seed, batch_size=batch_size)
        enroll = enh.enhance_dict(enroll)
        test = enroll if dev.test is dev.enroll else enh.enhance_dict(test)
    matrices = any(v.ndim == 2 for v in enroll.values()) or any(v.ndim == 2 for v in test.values())
    if matrices:
        from seedkit.scoring.multicrop import mean_cosine_scores  # noqa: PLC0415
        scores = mean_cosine_scores(dev.trials, enroll, test)
    else:
        from seedkit.scoring.cosine import cosine_scores  # noqa: PLC0415
        scores = cosine_scores(dev.trials, enroll, test)
    return float(compute_eer(np.asarray(scores, dtype=np.float64), dev.labels))


# --------------------------------------------------------------------------- checkpoints
def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    if not ckpt_dir.is_dir():
        return []
    out = []
    for p in ckpt_dir.iterdir():
        m = CKPT_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def weights_digest(net: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in net.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _model_file(cfg: Mapping[str, Any], weights: Mapping[str, torch.Tensor], step: int, epoch: int,
                selected_by: str, eer: Optional[float]) -> dict[str, Any]:
    return {"format": FORMAT, "kind": "model", "config": dict(cfg),
            "model": {k: v.detach().cpu().clone() for k, v in weights.items()},
            "step": step, "epoch": epoch, "selected_by": selected_by, "dev_eer": eer}


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


# --------------------------------------------------------------------------- batch sources
@dataclass
class Batch:
    """The pairs one rank trains at one step.

    ``positions``: the pairs' positions in the epoch (t and epsilon are drawn from
    ``(seed, epoch, position)``, :func:`pair_noise`); ``scale``: the factor the rank's mean loss is
    multiplied by so that DDP's average is the mean over the step's real pairs
    (:func:`step_shard`); ``step_pairs``: the real pairs of the whole step, all ranks together.
    """

    x_start: torch.Tensor
    x_target: torch.Tensor
    positions: torch.Tensor
    scale: float
    step_pairs: int


class BatchSource(Protocol):
    """Where the pairs of every step come from (cached pairs, or drawn on the fly)."""

    #: the embedding dimension D
    dim: int
    #: the command-line options that name the data (for the refusal of a resume on other data)
    options: str

    def describe(self) -> str:
        """What is trained on, for the first log line (e.g. ``117 pairs (...)``)."""

    def fingerprint(self) -> str:
        """Equal for equal data (a resume on other data is refused)."""

    def layout(self, batch_size: int, world: int) -> tuple[int, str]:
        """Steps per epoch and how a step's pairs are split over ``world`` processes (words);
        raises :class:`SeedkitError` when ``batch_size`` cannot be split so."""

    def batch(self, epoch: int, step: int, rank: int, world: int, batch_size: int) -> Batch:
        """The pairs ``rank`` trains at step ``step`` of epoch ``epoch``."""

    def timers(self) -> dict[str, float]:
        """Seconds spent so far in the named phases of :meth:`batch` (may be empty)."""

    def close(self) -> None:
        """Release what the source holds (threads); called once training ends or fails."""


class CachedPairs:
    """Pairs of cached embeddings (:func:`seedkit.seed.data.load_pairs`), read into memory.

    Epoch e trains its pairs in the order :func:`epoch_order` ``(seed, e)``; step s of it the
    positions [s*B, s*B + B) of that order, sharded over the ranks by :func:`step_shard`."""

    options = "--clean/--noisy/--pairs"

    def __init__(self, data: PairSet, seed: int, device: torch.device):
        self.data, self.seed, self.device = data, seed, device
        self.dim = data.dim
        self.table = torch.from_numpy(data.table).to(device)
        self.src = torch.from_numpy(data.src)
        self.tgt = torch.from_numpy(data.tgt)
        self._order: tuple[int, Optional[torch.Tensor]] = (-1, None)

    def describe(self) -> str:
        d = self.data
        return f"{len(d)} pairs ({d.num_listed} listed + {d.num_identity} clean identity)"

    def fingerprint(self) -> str:
        return self.data.fingerprint()

    def layout(self, batch_size: int, world: int) -> tuple[int, str]:
        if batch_size % world:
            raise SeedkitError(f"batch_size {batch_size} is not divisible by the {world} "
                               "processes; change batch_size or --nproc_per_node")
        local_b = batch_size // world
        return math.ceil(math.ceil(len(self.data) / world) / local_b), f"{local_b} per process"

    def order(self, epoch: int) -> torch.Tensor:
        if self._order[0] != epoch:
            self._order = (epoch, epoch_order(len(self.data), self.seed, epoch))
        assert self._order[1] is not None
        return self._order[1]

    def batch(self, epoch: int, step: int, rank: int, world: int, batch_size: int) -> Batch:
        n = len(self.data)
        pos, scale = step_shard(n, rank, world, batch_size, step)
        idx = self.order(epoch)[pos % n]
        return Batch(self.table[self.src[idx].to(self.device)],
                     self.table[self.tgt[idx].to(self.device)], pos, scale,
                     min(batch_size, n - step * batch_size))

    def timers(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        pass


SourceFactory = Callable[[Mapping[str, Any], DistInfo], BatchSource]


# --------------------------------------------------------------------------- training
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


def _read_resume_state(ckpt_dir: Path, resume: bool, cfg: Mapping[str, Any],
                       source: BatchSource) -> Optional[dict[str, Any]]:
    """The latest training checkpoint when resuming (None: start from scratch); refuses
    checkpoints without --resume, foreign files, another config and other data."""
    existing = list_checkpoints(ckpt_dir)
    if existing and not resume:
        raise SeedkitError(f"{ckpt_dir} already holds checkpoints (latest step "
                           f"{existing[-1][0]}); pass --resume to continue, or use a new exp dir")
    if not existing:
        if resume:
            log.info("--resume given but %s has no checkpoint: starting from scratch", ckpt_dir)
        return None
    latest = existing[-1][1]
    state = read_checkpoint(latest)
    if not (isinstance(state, Mapping) and state.get("format") == FORMAT
            and state.get("kind") == "train"):
        raise SeedkitError("not a seedkit training checkpoint; remove it or use a new exp dir",
                           latest)
    diff = config_diff(state["config"], cfg)
    if diff:
        shown = "; ".join(f"{k}: {a!r} in checkpoint, {b!r} now" for k, a, b in diff)
        raise SeedkitError(f"cannot resume: the config differs from the checkpoint's in "
                           f"{len(diff)} key(s): {shown}. Use the same config, or a new "
                           "exp dir", latest)
    if state["data_fingerprint"] != source.fingerprint():
        changed = _changed_parts(state["data_fingerprint"], source.fingerprint())
        raise SeedkitError("cannot resume: the training pairs/embeddings differ from the "
                           f"ones this checkpoint was trained on{changed}; use the same "
                           f"{source.options}, or a new exp dir", latest)
    state["path"] = latest
    return state


def _changed_parts(old: str, new: str) -> str:
    """`` (changed: a, b)`` for fingerprints made of ``;``-separated ``name=hash`` parts (names
    the inputs that differ); empty otherwise, or when the kinds of data differ."""
    def parts(fp: str) -> dict[str, str]:
        return dict(p.split("=", 1) for p in fp.split(";") if "=" in p)

    a, b = parts(old), parts(new)
    if not a or not b or old.split(";")[0] != new.split(";")[0]:
        return ""
    names = [k for k in b if a.get(k) != b[k]]
    return f" (changed: {', '.join(names)})" if names else ""


class _Meter:
    """Loss, pairs/s and where the time went, logged every ``log_interval`` steps."""

    def __init__(self, source: BatchSource, bar: tqdm):
        self.source, self.bar = source, bar
        self.t_run = self.t_log = time.perf_counter()
        self.pairs_run = self.pairs_log = 0
        self.loss_sum, self.loss_n, self.steps_run = 0.0, 0, 0
        self.data_s = self.net_s = 0.0
        self.base = dict(source.timers())

    def add(self, loss: float, pairs: int, data_s: float, net_s: float) -> None:
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
        now = time.perf_counter()
        rate = self.pairs_log / max(now - self.t_log, 1e-9)
        mean = self.loss_sum / max(self.loss_n, 1)
        log.info("step %d epoch %d: loss %.5f, %.0f pairs/s; time: %s", step, epoch, mean, rate,
                 self.time_split())
        self.bar.set_postfix(loss=f"{mean:.4f}", pairs_s=f"{rate:.0f}")
        self.t_log, self.pairs_log, self.loss_sum, self.loss_n = now, 0, 0.0, 0

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
        from seedkit.seed.config import resolve_dims  # noqa: PLC0415

        self.cfg = cfg = resolve_dims(cfg0, source.dim)
        self.source, self.exp, self.info, self.dev = source, exp, info, dev
        self.chash = config_hash(cfg)
        self.ckpt_dir = exp / "checkpoints"
        self.batch_size = cfg["batch_size"]
        self.steps_per_epoch, split = source.layout(self.batch_size, info.world)
        state = _read_resume_state(self.ckpt_dir, resume, cfg, source)
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
            from torch.nn.parallel import DistributedDataParallel  # noqa: PLC0415
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
            _set_rng_state(state["rng"][self.info.rank], self.info.device)
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
        self.meter = _Meter(self.source, bar)
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
        t, eps = pair_noise(cfg["seed"], self.epoch, b.positions, self.model.embed_dim,
                            self.model.schedule.num_train_timesteps)
        t1 = time.perf_counter()
        loss = self.ddp_model(b.x_start, b.x_target, t.to(dev), eps.to(dev))
        self.opt.zero_grad(set_to_none=True)
        (loss * b.scale if b.scale != 1.0 else loss).backward()
        if cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(self.params, cfg["grad_clip"])
        self.opt.step()
        if self.ema is not None:
            self.ema.update(self.net)
        self.step += 1
        value = float(loss.detach())
        self.meter.add(value, b.step_pairs, t1 - t0, time.perf_counter() - t1)
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
        if self.base_eer is None:
            self.base_eer = dev_eer(dev, None, self.info.device, cfg["seed"],
                                    cfg["dev_batch_size"])
            log.info("dev EER without enhancement: %.3f%%", self.base_eer)
        with torch.random.fork_rng(devices=[]):  # building a net draws init weights
            probe = SeedDiffusion(cfg)
        probe.net.load_state_dict(self.eval_weights())
        eer = dev_eer(dev, probe, self.info.device, cfg["seed"], cfg["dev_batch_size"])
        self.history.append({"epoch": ep, "step": self.step, "eer": eer})
        improved = self.best is None or eer < self.best["eer"]
        log.info("epoch %d step %d: dev EER %.3f%% (raw %.3f%%)%s", ep, self.step, eer,
                 self.base_eer, " best so far" if improved else "")
        if improved:
            self.best = {"eer": eer, "step": self.step, "epoch": ep}
            save_checkpoint(_model_file(cfg, self.eval_weights(), self.step, ep, "best_dev_eer",
                                        eer), self.ckpt_dir / "best.pt")

    def save(self) -> None:
        """A resumable checkpoint at the current position (every rank's RNG states)."""
        rngs = _all_gather(_rng_state(self.info.device), self.info)
        if not self.info.is_main:
            return
        obj = {"format": FORMAT, "kind": "train", "config": dict(self.cfg),
               "config_hash": self.chash, "data_fingerprint": self.source.fingerprint(),
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
        digests = _all_gather(digest, info)
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
            final = _model_file(cfg, self.eval_weights(), self.step, self.epoch, "last",
                                last_eer)
            log.info("final.pt = weights after step %d%s", self.step,
                     " (EMA)" if self.ema is not None else "")
        final["dev_history"] = history
        final["baseline_dev_eer"] = self.base_eer
        return final


_PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe",
              "NCCL communicator was aborted", "remote process exited or there was a network error")


def lost_peer_error(err: RuntimeError):
    """Under torchrun, a collective that failed because another rank went away (its process or
    node died, was killed or cancelled) as a SeedkitError naming what to do; None otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    text = str(err)
    if world <= 1 or not any(s in text for s in _PEER_GONE):
        return None
    first = re.sub(r"^\[[^\]]*\] ", "", text.strip().splitlines()[0])
    return SeedkitError(
        f"rank {os.environ.get('RANK', '?')} of {world} lost its connection to the other "
        f"training processes ({first}): a process or node of this run died or was killed (see "
        f"its log); the checkpoints are kept: run the same command with --resume on every node "
        f"to continue")
