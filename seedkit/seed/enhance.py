"""Enhancement of embedding archives with a trained SEED model.

Each row of each entry (a vector, or every crop row of a multi-crop matrix) is enhanced on its
own. The diffusion noise of a row is drawn from a generator seeded by ``(seed, key, row)``, so
the output for a key does not depend on batch size, on the order of the archive or on which
other keys are in it; on the same device and batch size the bytes are identical. ``--noise``
replaces the draw by stored epsilon (an archive with the same keys and shapes), which makes the
result independent of the RNG altogether.

Rows are processed in batches of ``batch_size`` rows collected across entries; entries are
written in input order as soon as their batch is done, so ``ark:-`` pipes stream.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Optional

import numpy as np
import torch

from seedkit.embio import EmbeddingWriter, iter_embeddings, read_embeddings
from seedkit.errors import SeedkitError
from seedkit.seed.config import check_sampling
from seedkit.seed.diffusion import SeedDiffusion

log = logging.getLogger(__name__)


_SEED_MASK = 0x7FFF_FFFF_FFFF_FFFF


def row_seed(seed: int, key: str, row: int) -> int:
    """A 63-bit generator seed for row ``row`` of entry ``key``."""
    h = hashlib.sha256(f"{int(seed)}\0{key}\0{int(row)}".encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little") & _SEED_MASK


def keyed_noise_rows(seed: int, entries: Iterable[tuple[str, int]], dim: int) -> torch.Tensor:
    """Noise of several entries at once: ``[sum(rows), dim]`` float32, the rows of each
    ``(key, rows)`` in order, each equal (bit for bit) to :func:`keyed_noise` of that key.

    One output tensor and one generator serve every row (re-seeded per row, each row filled in
    place), which is what makes this ~3-5x faster than one :func:`keyed_noise` call per key.
    """
    entries = list(entries)
    out = torch.empty(sum(n for _, n in entries), dim)
    views = out.unbind(0)
    g = torch.Generator()
    sha256, i = hashlib.sha256, 0
    for key, num_rows in entries:
        prefix = f"{int(seed)}\0{key}\0".encode("utf-8")  # + row number = row_seed's text
        for r in range(num_rows):
            g.manual_seed(int.from_bytes(sha256(prefix + b"%d" % r).digest()[:8], "little")
                          & _SEED_MASK)
            views[i].normal_(generator=g)  # = torch.randn(dim, generator=g), in place
            i += 1
    return out


def keyed_noise(seed: int, key: str, num_rows: int, dim: int) -> torch.Tensor:
    """``[num_rows, dim]`` standard normal float32, row r from ``row_seed(seed, key, r)``."""
    return keyed_noise_rows(seed, [(key, num_rows)], dim)


class RowEnhancer:
    """Enhances embedding rows batch by batch with a :class:`SeedDiffusion` on a device (the
    engine behind ``seedkit.Enhancer`` and ``seedkit-enhance``)."""

    def __init__(self, model: SeedDiffusion, device: str = "cpu", seed: int = 0,
                 steps: Optional[int] = None, t_star: Optional[int] = None,
                 noise: Optional[Mapping[str, np.ndarray]] = None, noise_where: str = "",
                 batch_size: int = 1024):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.seed = int(seed)
        self.steps = int(steps if steps is not None else model.cfg["sample_steps"])
        self.t_star = int(t_star if t_star is not None else model.cfg["t_star"])
        check_sampling(model.cfg, self.steps, self.t_star, "--steps", "--t-star")
        self.noise = noise
        self.noise_where = noise_where
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise SeedkitError(f"--batch-size must be >= 1, got {batch_size}")
        self.needs_noise = model.objective == "diffusion"

    def _eps(self, key: str, arr: np.ndarray) -> Optional[torch.Tensor]:
        if not self.needs_noise:
            return None
        rows = 1 if arr.ndim == 1 else arr.shape[0]
        if self.noise is None:
            return keyed_noise(self.seed, key, rows, arr.shape[-1])
        if key not in self.noise:
            raise SeedkitError(f"no epsilon for {key!r} in the --noise archive; it needs one "
                               "entry per input key", self.noise_where)
        eps = self.noise[key]
        if eps.shape != arr.shape:
            raise SeedkitError(f"epsilon for {key!r} has shape {eps.shape} but the embedding has "
                               f"{arr.shape}", self.noise_where)
        return torch.from_numpy(np.array(eps, dtype=np.float32, copy=True)).reshape(rows, -1)

    def _batch_eps(self, pending: list[tuple[str, np.ndarray]]) -> Optional[torch.Tensor]:
        """Epsilon for the rows of ``pending`` entries, in order (None without diffusion)."""
        if not self.needs_noise:
            return None
        if self.noise is None:
            return keyed_noise_rows(self.seed, [(k, 1 if a.ndim == 1 else a.shape[0])
                                                for k, a in pending], pending[0][1].shape[-1])
        return torch.cat([self._eps(k, a) for k, a in pending])

    def check(self, key: str, arr: np.ndarray, where: str) -> None:
        if arr.shape[-1] != self.model.embed_dim:
            raise SeedkitError(f"embedding {key!r} has dimension {arr.shape[-1]} but the model "
                               f"expects {self.model.embed_dim}; use the SEED model trained on "
                               "this backbone's embeddings", where)

    @torch.no_grad()
    def run_rows(self, x: torch.Tensor, eps: Optional[torch.Tensor]) -> torch.Tensor:
        """Enhance ``[N, D]`` rows (in chunks of batch_size); returns CPU float32."""
        outs = []
        for s in range(0, x.shape[0], self.batch_size):
            xb = x[s:s + self.batch_size].to(self.device)
            eb = None if eps is None else eps[s:s + self.batch_size].to(self.device)
            outs.append(self.model.enhance(xb, eb, t_star=self.t_star, steps=self.steps)
                        .float().cpu())
        return torch.cat(outs) if outs else x.new_zeros(0, x.shape[-1])

    def stream(self, items: Iterable[tuple[str, np.ndarray]], where: str = ""
               ) -> Iterator[tuple[str, np.ndarray]]:
        """Enhanced ``(key, array)`` in input order; shapes are preserved."""
        pending: list[tuple[str, np.ndarray]] = []
        rows = 0

        def flush():
            x = torch.cat([torch.from_numpy(np.array(a, dtype=np.float32, copy=True))
                           .reshape(-1, a.shape[-1]) for _, a in pending])
            eps = self._batch_eps(pending)
            out = self.run_rows(x, eps).numpy()
            o = 0
            for k, a in pending:
                n = 1 if a.ndim == 1 else a.shape[0]
                yield k, out[o:o + n].reshape(a.shape)
                o += n

        for key, arr in items:
            self.check(key, arr, where)
            pending.append((key, arr))
            rows += 1 if arr.ndim == 1 else arr.shape[0]
            if rows >= self.batch_size:
                yield from flush()
                pending, rows = [], 0
        if pending:
            yield from flush()

    def enhance_dict(self, emb: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(self.stream(emb.items()))


def enhance_archive(model: SeedDiffusion, rspec: str, wspec: str, device: str = "cpu",
                    seed: int = 0, steps: Optional[int] = None, t_star: Optional[int] = None,
                    noise_rspec: Optional[str] = None, batch_size: int = 1024) -> int:
    """Read ``rspec``, enhance every row, write ``wspec`` (atomically). Returns the entry count."""
    noise = read_embeddings(noise_rspec) if noise_rspec else None
    enh = RowEnhancer(model, device, seed, steps, t_star, noise, noise_rspec or "", batch_size)
    start = time.perf_counter()
    n_rows = 0
    with EmbeddingWriter(wspec) as w:
        for key, arr in enh.stream(iter_embeddings(rspec), rspec):
            w.write(key, arr)
            n_rows += 1 if arr.ndim == 1 else arr.shape[0]
        if w.count == 0:  # raised inside the writer: no empty output is left behind
            raise SeedkitError("no embeddings to enhance", rspec)
    dt = time.perf_counter() - start
    log.info("enhanced %d entries (%d rows) with steps=%d t*=%d in %.2f s (%.0f rows/s)",
             w.count, n_rows, enh.steps, enh.t_star, dt, n_rows / max(dt, 1e-9))
    return w.count
