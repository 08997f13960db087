"""The backbone network base class (:class:`BackboneNet`) and the registry that maps a conf
file's ``model:`` name to a class.

Adding a backbone takes one file::

    # seedkit/models/my_net.py   (or any importable module / .py file named by the conf key
    #                              ``model_module:``)
    from seedkit.models.registry import BackboneNet, register_backbone

    @register_backbone("MyNet")
    class MyNet(BackboneNet):
        sample_rate = 16000
        def __init__(self, embed_dim: int = 256): ...
        def forward(self, wav):            # [B, N] float32 waveform -> [B, embed_dim]
            ...

Every module in the ``seedkit.models`` package is imported the first time a name is looked up,
so a file dropped there registers itself; ``model_module: path/to/file.py`` or
``model_module: mypkg.mymodule`` in the conf imports an outside module first.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import torch
from torch import nn

from seedkit.errors import PathLike, SeedkitError

_REGISTRY: dict[str, type["BackboneNet"]] = {}
_DISCOVERED = False

T = TypeVar("T", bound=type)


class BackboneNet(nn.Module):
    """A frozen speaker-embedding network: ``forward(wav [B, N]) -> [B, embed_dim]``.

    Class attributes a subclass sets:
      ``sample_rate``              input rate in Hz;
      ``derived_buffers``          state-dict keys the model computes itself (STFT window, mel
                                   filterbank, DCT, pre-emphasis filter); a checkpoint may omit
                                   them, and when present they are checked against the computed
                                   values and loaded;
      ``ignored_checkpoint_keys``  keys of the official checkpoint that inference does not use
                                   (dropped when loading);
      ``min_samples``              shortest waveform ``forward`` accepts (shorter input is
                                   wrap-padded by the extractor).
    Instances expose ``embed_dim`` (output size) and ``registry_name``.
    """

    sample_rate: int = 16000
    derived_buffers: tuple[str, ...] = ()
    ignored_checkpoint_keys: tuple[str, ...] = ()
    min_samples: int = 1
    registry_name: str = ""
    embed_dim: int = 0


def register_backbone(name: str, *aliases: str) -> Callable[[T], T]:
    """Class decorator: make ``name`` (and ``aliases``) usable as ``model:`` in a conf."""

    def deco(cls: T) -> T:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f"@register_backbone({name!r}) must decorate an nn.Module subclass")
        for n in (name, *aliases):
            old = _REGISTRY.get(n)
            if old is not None and old is not cls and old.__qualname__ != cls.__qualname__:
                raise ValueError(f"backbone name {n!r} is already registered by "
                                 f"{old.__module__}.{old.__qualname__}")
            _REGISTRY[n] = cls  # type: ignore[assignment]
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def _discover() -> None:
    """Import every module of the seedkit.models package (each registers its backbones)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import seedkit.models as pkg  # here: the package imports this module (no circle at load)

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def import_model_module(spec: str, where: Optional[PathLike] = None, line: int = 0) -> None:
    """Import a user module that registers backbones: a dotted name or a ``.py`` file path."""
    try:
        if spec.endswith(".py"):
            path = Path(spec)
            if not path.is_file():
                raise SeedkitError(f"model_module file {spec} does not exist", where, line)
            name = f"seedkit_user_model_{abs(hash(str(path.resolve())))}"
            if name in sys.modules:
                return
            mspec = importlib.util.spec_from_file_location(name, path)
            assert mspec is not None and mspec.loader is not None
            module = importlib.util.module_from_spec(mspec)
            sys.modules[name] = module
            mspec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except SeedkitError:
        raise
    except Exception as err:
        raise SeedkitError(f"cannot import model_module {spec!r}: {type(err).__name__}: {err}",
                           where, line) from None


def available_backbones() -> list[str]:
    """All registered ``model:`` names, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get_backbone_class(name: str, where: Optional[PathLike] = None, line: int = 0
                       ) -> type[BackboneNet]:
    """The class registered under ``name``; unknown names raise with the list of known ones."""
    _discover()
    try:
        return _REGISTRY[name]  # type: ignore[return-value]
    except KeyError:
        raise SeedkitError(f"unknown model {name!r}; known backbones: "
                           f"{', '.join(available_backbones())} (a new backbone registers itself "
                           "with @register_backbone; see docs/backbones.md)", where,
                           line) from None


def build_backbone(name: str, model_args: Optional[dict[str, Any]] = None,
                   where: Optional[PathLike] = None, line: int = 0) -> BackboneNet:
    """Instantiate ``name`` with ``model_args``; bad arguments raise with the accepted ones."""
    cls = get_backbone_class(name, where, line)
    args = dict(model_args or {})
    sig = inspect.signature(cls.__init__)
    params = [p for p in list(sig.parameters)[1:]
              if sig.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                inspect.Parameter.VAR_KEYWORD)]
    unknown = [k for k in args if k not in params]
    if unknown:
        raise SeedkitError(f"model_args {unknown} not accepted by {name}; accepted: "
                           f"{', '.join(params)}", where, line)
    try:
        model = cls(**args)
    except SeedkitError:
        raise
    except Exception as err:  # a constructor can raise anything (RuntimeError from torch, ...)
        text = " ".join(str(err).split()) or type(err).__name__
        raise SeedkitError(f"cannot build {name} with model_args {args}: "
                           f"{type(err).__name__}: {text[:300]}", where, line) from None
    return model


@functools.lru_cache(maxsize=None)
def _default_keys(cls: type) -> Optional[frozenset[str]]:
    try:
        with torch.random.fork_rng(devices=[]):
            model = cls()
        return frozenset(model.state_dict())
    except Exception:  # a backbone that cannot be built without arguments
        return None


def state_dict_keys_of(name: str) -> Optional[set[str]]:
    """Keys of ``name``'s default-size state dict (None when it cannot be built without args).

    Builds the model once per process (used only to explain a checkpoint that does not fit).
    """
    keys = _default_keys(get_backbone_class(name))
    return None if keys is None else set(keys)


__all__ = [
    "BackboneNet",
    "available_backbones",
    "build_backbone",
    "get_backbone_class",
    "import_model_module",
    "register_backbone",
    "state_dict_keys_of",
]
