"""Process-group set-up for SEED training: one process, or ``torchrun`` (gloo on CPU, NCCL on GPU).

:func:`setup_distributed` joins the group and picks each rank's device, :func:`all_gather` collects
one Python object from every rank, and :func:`lost_peer_error` turns the error of a collective
whose peer went away into one :class:`SeedkitError` that says how to continue.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
import torch.distributed as dist

from seedkit.device import parse_device
from seedkit.errors import SeedkitError


@dataclass
class DistInfo:
    """This process's place in the run: rank, world size, local rank and training device."""

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
    CUDA each rank uses ``cuda:LOCAL_RANK`` and NCCL, with TF32 off; on CPU gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = parse_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank if world > 1 else 0)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        # full float32 matmuls, as on the CPU (TF32 would change the weights' rounding)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local_rank, dev)


def all_gather(obj: Any, info: DistInfo) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` in a single process)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


_PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe",
              "NCCL communicator was aborted", "remote process exited or there was a network error")


def lost_peer_error(err: RuntimeError) -> Optional[SeedkitError]:
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
