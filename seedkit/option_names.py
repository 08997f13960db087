"""How a caller names its options in the library's error messages.

A library error says what is wrong and names the option to change in the caller's words: a
command passes its flags (``seedkit-extract``: ``--checkpoint``, ``--allow-random-weights``;
:func:`cli_flag` for options named as their flags), the Python API keeps the defaults, its
argument names (:func:`python_name`). Light on purpose (no torch): a command builds
these before it knows whether it will load a model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightsOptions:
    """The caller's names of a backbone's checkpoint override and of its random-weights switch
    (:func:`seedkit.models.config.build_from_config`)."""

    checkpoint: str = "the checkpoint argument"
    allow_random: str = "allow_random_weights=True"


def python_name(name: str) -> str:
    """The Python API's name of option ``name``: the argument itself."""
    return name


def cli_flag(name: str) -> str:
    """A command's flag for option ``name``: ``level_dbfs`` -> ``--level-dbfs``."""
    return "--" + name.replace("_", "-")


__all__ = ["WeightsOptions", "cli_flag", "python_name"]
