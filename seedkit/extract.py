"""Speaker-embedding extraction for a Kaldi data directory into an ark/scp archive.

Each utterance is read (render pipes rendered in process, :func:`seedkit.render.read_entry`), cut
by its crop mode (``--crop``: ``full``, ``random:SEC``, ``multi:N:SEC``; :mod:`seedkit.crops`),
embedded in batches by the backbone and written with its key. Empty audio is an error.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from tqdm import tqdm

from seedkit.crops import CropMode, make_crops, parse_crop
from seedkit.data.datadir import load_data_dir, validate_data_dir
from seedkit.device import default_device, parse_device
from seedkit.embio import EmbeddingWriter, parse_wspecifier, read_scp_index
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import c_sorted, write_lines
from seedkit.render import check_render_dir, read_entry

# torch and seedkit.models.config (the backbone stack) are imported in the functions that use
# them ("heavy" below): they add 3-4 s (measured: import 2.2-2.8 s -> 5.9-6.3 s) to
# seedkit-merge-embedding-scp, which imports this module for merge_scps and never uses them

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------- model
def device_for_job(device: Optional[str], job_index: Optional[int]) -> Optional[str]:
    """The device of parallel job ``job_index`` (1-based): an unindexed ``cuda`` (or the default
    on a GPU machine) becomes ``cuda:<(job_index - 1) mod visible GPUs>``, so local jobs spread
    over the node's GPUs; an explicit ``cuda:N``, ``cpu``, or a single visible GPU (a Slurm job
    given one) is kept."""
    if job_index is None:
        return device
    if job_index < 1:
        raise OptionError(Param("job_index"), f" must be >= 1, got {job_index}")
    import torch  # heavy (see the imports)

    name = default_device() if device in (None, "auto") else device
    if name != "cuda" or not torch.cuda.is_available():
        return device
    count = torch.cuda.device_count()
    return f"cuda:{(job_index - 1) % count}" if count > 1 else device


def resolve_device(device: Optional[str]):
    """:func:`seedkit.device.parse_device` (None: cuda when available), with TF32 switched off
    on cuda."""
    import torch  # heavy (see the imports)

    dev = parse_device(device)
    if dev.type == "cuda":
        # The reference fixtures (and exactness across machines) need full fp32 arithmetic.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return dev


class Embedder:
    """A loaded backbone on a device: ``embed(crops [B, L] float32) -> [B, D] float32``."""
    def __init__(self, model, device=None, input_scale: float = 1.0):
        import torch  # heavy (see the imports)

        self.device = resolve_device(device) if not hasattr(device, "type") else device
        self.model = model.to(self.device).eval()
        self.input_scale = float(input_scale)
        self._torch = torch

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    @property
    def min_samples(self) -> int:
        return int(getattr(self.model, "min_samples", 1))

    @property
    def embeds_many(self) -> bool:
        """The model batches whole utterances of different lengths (``embed_many``)."""
        return hasattr(self.model, "embed_many")

    def units(self, num_samples: int) -> int:
        """Batch units of a whole utterance (GE2E: its partials; others: 1)."""
        fn = getattr(self.model, "num_units", None)
        return int(fn(num_samples)) if fn is not None else 1

    def embed_many(self, wavs: list[np.ndarray]) -> np.ndarray:
        """Whole utterances of different lengths -> [U, D] (models with ``embed_many``)."""
        torch = self._torch
        with torch.inference_mode():
            xs = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)).to(self.device)
                  for w in wavs]
            if self.input_scale != 1.0:
                xs = [x * self.input_scale for x in xs]
            return self.model.embed_many(xs).float().cpu().numpy()

    def embed(self, crops: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32))
            x = x.to(self.device, non_blocking=True)
            if self.input_scale != 1.0:
                x = x * self.input_scale
            return self.model(x).float().cpu().numpy()


def build_embedder(cfg, checkpoint: Optional[str] = None, device: Optional[str] = None,
                   allow_random_weights: bool = False) -> Embedder:
    """Build and load ``cfg``'s model (a :class:`BackboneConfig`) on ``device``.

    Random weights (only with ``allow_random_weights``) always come from init seed 0, so every
    job and every run (whatever its crop seed) builds the same model.
    """
    from seedkit.models.config import build_from_config  # heavy

    dev = resolve_device(device)
    model = build_from_config(cfg, checkpoint, allow_random_weights, init_seed=0)
    return Embedder(model, dev, cfg.input_scale)


# --------------------------------------------------------------------------------------- data
@dataclass
class Utterance:
    key: str
    samples: np.ndarray
    crops: np.ndarray  # [K, L]


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 2,
                depth: int = 16) -> Iterator[Any]:
    """``map(fn, items)`` computed by ``workers`` threads, at most ``depth`` ahead, results (and
    the first exception) in order."""
    if workers <= 1:
        yield from map(fn, items)
        return
    pending: "deque[Future]" = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="seedkit-read") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def iter_utterances(data_dir: PathLike, rate: int, mode: CropMode, seed: int,
                    min_samples: int = 1, read_threads: int = 2
                    ) -> tuple[int, Iterator[Utterance]]:
    """``(count, iterator)`` over a data dir's utterances (C order), audio read and cropped.

    Without ``segments``, ``read_threads`` threads read (or render) the audio ahead. A data dir
    of render pipes (spec-mode augmentation, :mod:`seedkit.render`) has its specs parsed and
    every entry checked against its sources here, before anything is read or written.
    """
    dd = validate_data_dir(data_dir, check_files=False, check_spk_sort=False)
    wav_scp = Path(data_dir) / "wav.scp"
    line_of = {rec: n for n, rec in enumerate(dd.wav_scp, start=1)}
    seg_line = {utt: n for n, utt in enumerate(dd.segments or {}, start=1)}
    utts = dd.utts
    if not utts:
        raise SeedkitError("data directory has no utterances", Path(data_dir) / "utt2spk")
    if any(v.startswith("seedkit-render-wav ") for v in dd.wav_scp.values()):
        check_render_dir(dd, data_dir)
    for utt in utts:
        rec = dd.recording_of(utt)
        if rec not in dd.wav_scp:
            raise SeedkitError(f"utterance {utt!r} has no wav.scp entry (recording {rec!r}); "
                               "run utils/fix_data_dir.sh", wav_scp)

    if dd.segments is None:
        def one(utt: str) -> Utterance:
            x, _ = read_entry(dd.wav_scp[utt], rate, where=wav_scp, line=line_of[utt], key=utt)
            return Utterance(utt, x, make_crops(x, mode, rate, seed, utt, min_samples))

        return len(utts), ordered_map(one, utts, read_threads)

    def gen() -> Iterator[Utterance]:
        cache: tuple[str, np.ndarray] = ("", np.zeros(0, np.float32))
        for utt in utts:
            rec = dd.recording_of(utt)
            if cache[0] != rec:
                x, _ = read_entry(dd.wav_scp[rec], rate, where=wav_scp, line=line_of[rec],
                                  key=rec)
                cache = (rec, x)
            x = cache[1]
            if dd.segments is not None:
                _, start, end = dd.segments[utt]
                a = int(round(start * rate))
                b = len(x) if end <= 0 else min(len(x), int(round(end * rate)))
                x = x[a:b]
                if len(x) == 0:
                    raise SeedkitError(f"segment {utt!r} ({start}-{end} s) holds no samples of "
                                       f"{rec!r}", Path(data_dir) / "segments", seg_line[utt])
            yield Utterance(utt, x, make_crops(x, mode, rate, seed, utt, min_samples))

    return len(utts), gen()


def prefetch(items: Iterable[Any], depth: int = 4) -> Iterator[Any]:
    """Iterate ``items`` in a background thread (audio reading overlaps the model); exceptions
    are re-raised in order."""
    q: "queue.Queue[tuple[bool, Any]]" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as err:  # forwarded to the consumer
            q.put((False, err))
            return
        q.put((False, None))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if ok:
                yield item
            elif item is None:
                return
            else:
                raise item
    finally:
        stop.set()


# --------------------------------------------------------------------------------------- driver
@dataclass
class ExtractStats:
    utterances: int = 0
    crops: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    skipped: bool = False

    @property
    def utts_per_second(self) -> float:
        return self.utterances / self.seconds if self.seconds > 0 else float("inf")

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio_seconds if self.audio_seconds > 0 else 0.0


def outputs_complete(wspecifier: str, keys: list[str]) -> bool:
    """True when an ``ark,scp`` output already holds exactly ``keys`` (a re-run may skip it)."""
    spec = parse_wspecifier(wspecifier)
    if spec.scp is None or spec.ark == "-" or not (os.path.isfile(spec.scp)
                                                   and os.path.isfile(spec.ark)):
        return False
    try:
        rows = read_scp_index(spec.scp)
    except SeedkitError:
        return False
    if [k for _, k, _ in rows] != keys:
        return False
    size = os.path.getsize(spec.ark)
    for _, _, loc in rows:
        ark, _, off = loc.rpartition(":")
        if ark != spec.ark or not off.isdigit() or int(off) >= size:
            return False
    return True


def run_extraction(embedder: Embedder, utterances: Iterable[Utterance], total: int,
                   wspecifier: str, mode: CropMode, batch_size: int = 32,
                   progress: bool = True) -> ExtractStats:
    """Embed every utterance and write one vector (``multi``: one [N, D] matrix) per key."""
    stats = ExtractStats()
    rate = embedder.sample_rate
    pending: list[Utterance] = []
    # full mode: one utterance per forward, unless the model batches whole utterances of
    # different lengths (GE2E: their partials), then utterances up to batch_size units
    many = mode.kind == "full" and embedder.embeds_many
    units = 0

    def flush(writer: EmbeddingWriter) -> None:
        nonlocal units
        units = 0
        if not pending:
            return
        if many:
            emb = embedder.embed_many([u.crops[0] for u in pending])
        else:
            crops = np.concatenate([u.crops for u in pending])
            emb = embedder.embed(crops)
        if not np.all(np.isfinite(emb)):
            bad = [u.key for u, e in zip(pending, np.split(emb, _offsets(pending)))
                   if not np.all(np.isfinite(e))]
            raise SeedkitError(f"embedding of {bad[0]!r} is not finite (silent or corrupt "
                               "audio?); remove the utterance or fix its audio")
        for u, e in zip(pending, np.split(emb, _offsets(pending))):
            writer.write(u.key, e if mode.kind == "multi" else e[0])
        pending.clear()

    start = time.perf_counter()
    bar = tqdm(total=total, unit="utt", file=sys.stderr, disable=not progress,
               mininterval=0.5 if sys.stderr.isatty() else 10.0, dynamic_ncols=True)
    with EmbeddingWriter(wspecifier) as writer, bar:
        for utt in prefetch(utterances):
            pending.append(utt)
            stats.utterances += 1
            stats.crops += len(utt.crops)
            stats.audio_seconds += len(utt.samples) / rate
            if many:
                units += embedder.units(utt.crops.shape[-1])
                ready = units >= batch_size
            else:
                ready = mode.kind == "full" or sum(len(u.crops) for u in pending) >= batch_size
            if ready:
                n = len(pending)
                flush(writer)
                bar.update(n)
        n = len(pending)
        flush(writer)
        bar.update(n)
    stats.seconds = time.perf_counter() - start
    return stats


def _offsets(utts: list[Utterance]) -> list[int]:
    return list(np.cumsum([len(u.crops) for u in utts])[:-1])


def extract_data_dir(data_dir: PathLike, wspecifier: str, config: Optional[PathLike] = None, *,
                     checkpoint: Optional[str] = None, crop: Optional[str] = None,
                     seed: int = 0, device: Optional[str] = None,
                     allow_random_weights: bool = False, batch_size: Optional[int] = None,
                     skip_if_complete: bool = False, progress: bool = True,
                     job_index: Optional[int] = None, read_threads: int = 2) -> ExtractStats:
    """``seedkit-extract``: embed ``data_dir`` into ``wspecifier``; logs utterances/s at the end.

    ``read_threads`` threads read (spec-mode dirs: render) the audio ahead of the backbone."""
    if skip_if_complete:
        keys = load_data_dir(data_dir).utts
        if outputs_complete(wspecifier, keys):
            log.info("%s already holds all %d utterances of %s; skipping", wspecifier, len(keys),
                     data_dir)
            return ExtractStats(utterances=len(keys), skipped=True)
    from seedkit.models.config import load_backbone_config  # heavy

    cfg = load_backbone_config(config)
    mode = parse_crop(crop if crop is not None else cfg.crop)
    embedder = build_embedder(cfg, checkpoint, device_for_job(device, job_index),
                              allow_random_weights)
    total, utts = iter_utterances(data_dir, cfg.sample_rate, mode, seed, embedder.min_samples,
                                  read_threads)
    log.info("extracting %d utterances of %s with %s (crop %s) on %s%s", total, data_dir,
             cfg.model, mode, embedder.device,
             f" (job {job_index})" if job_index is not None else "")
    from seedkit.models.config import batch_size_for  # heavy

    stats = run_extraction(embedder, utts, total, wspecifier, mode,
                           batch_size or batch_size_for(cfg, embedder.device.type), progress)
    log.info("extracted %d utterances (%d crops, %.1f s of audio) in %.2f s: %.2f utterances/s, "
             "RTF %.4f", stats.utterances, stats.crops, stats.audio_seconds, stats.seconds,
             stats.utts_per_second, stats.rtf)
    return stats


# --------------------------------------------------------------------------------------- merge
def merge_scps(inputs: list[PathLike], output: PathLike,
               expected_keys: Optional[list[str]] = None, where: Optional[PathLike] = None
               ) -> int:
    """Concatenate per-job scp files into ``output`` (C-sorted); check keys against the data.

    ``expected_keys`` (the data dir's utterances) must be matched exactly: the error names the
    count and the first missing / extra keys. Returns the number of entries.
    """
    entries: dict[str, str] = {}
    for path in inputs:
        for n, key, loc in read_scp_index(str(path)):
            if key in entries:
                raise SeedkitError(f"key {key!r} appears in more than one job output", path, n)
            entries[key] = loc
    if expected_keys is not None:
        want = set(expected_keys)
        missing = [k for k in expected_keys if k not in entries]
        extra = c_sorted(k for k in entries if k not in want)
        if missing or extra:
            msg = (f"job outputs hold {len(entries)} embeddings, the data has "
                   f"{len(expected_keys)} utterances")
            if missing:
                msg += f"; missing {len(missing)} (first: {missing[0]})"
            if extra:
                msg += f"; unexpected {len(extra)} (first: {extra[0]})"
            raise SeedkitError(msg + "; re-run the extraction (failed jobs are redone)", where)
    write_lines(output, (f"{k} {entries[k]}" for k in c_sorted(entries)))
    return len(entries)


__all__ = [
    "Embedder",
    "ExtractStats",
    "build_embedder",
    "extract_data_dir",
    "iter_utterances",
    "merge_scps",
    "ordered_map",
    "outputs_complete",
    "run_extraction",
]
