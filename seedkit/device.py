"""The ``--device`` option of every command: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

One parser for seedkit-extract, seedkit-train-seed and seedkit-enhance: ``auto`` (or no value)
means cuda when this machine has it, else cpu; any other name goes through ``torch.device`` (so
``cuda`` keeps no index and the caller picks one: the local rank, a job's GPU). torch is imported
only when a device is parsed, so importing this module stays cheap for the bins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from seedkit.errors import SeedkitError

if TYPE_CHECKING:  # pragma: no cover
    import torch

CHOICES = "auto, cpu, cuda or cuda:N"


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu`` (what ``--device auto`` becomes)."""
    import torch  # noqa: PLC0415

    return "cuda" if torch.cuda.is_available() else "cpu"


def parse_device(name: Optional[str] = "auto") -> torch.device:
    """A ``torch.device`` for ``--device NAME`` (``None`` or ``auto``: :func:`default_device`).

    Raises :class:`SeedkitError` for a name torch does not know and for a cuda device on a
    machine without CUDA. ``cuda`` stays unindexed.
    """
    import torch  # noqa: PLC0415

    name = default_device() if name in (None, "auto") else name
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise SeedkitError(f"unknown --device {name!r} (bad --device value: {err}); use "
                           f"{CHOICES}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SeedkitError(f"--device {name} requested but CUDA is not available on this "
                           "machine; use --device cpu")
    return dev


def device_name(name: Optional[str] = "auto") -> str:
    """:func:`parse_device` as the string the torch calls take (``auto`` -> ``cuda``/``cpu``)."""
    return str(parse_device(name))


__all__ = ["CHOICES", "default_device", "device_name", "parse_device"]
