"""Shared helpers for ``seedkit/bin`` scripts: the argparse prologue, the ERROR wrapper and the
config-key options (``--some-key VALUE`` / ``--set some_key=VALUE``).

A bin script is::

    def get_parser() -> argparse.ArgumentParser: ...
    def main(argv=None) -> int:
        args = parse_args(get_parser(), argv)   # parse, then the log lines
        with option_names({"plda_path": "--plda"}):  # only where options differ from the
            ... call the library ...                 # library's parameter names
    console_main = entry(main)
    if __name__ == "__main__":
        console_main()

and gets a console script ``seedkit-<name>`` (underscores become dashes) automatically.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from seedkit.errors import OptionError, SeedkitError, run_main

__all__ = ["SeedkitError", "add_config_options", "entry", "option_names", "parse_args",
           "run_main", "setup_logging", "true_false"]


def true_false(text: str) -> bool:
    """An argparse ``type`` for Kaldi-style boolean options: exactly ``true`` or ``false``."""
    if text not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text == "true"


def setup_logging(verbose: bool = False) -> None:
    """Kaldi-like log lines on stderr: ``LOG (<prog>) message``."""
    prog = sys.argv[0].rsplit("/", 1)[-1]
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format=f"%(levelname)s ({prog}) %(message)s", force=True)


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """A bin's prologue: parse ``argv`` (``None``: ``sys.argv[1:]``) with ``parser``, then set up
    the log lines (:func:`setup_logging`; DEBUG when the parser has ``--verbose``, given)."""
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", False))
    return args


@contextlib.contextmanager
def option_names(options: Mapping[str, str]) -> Iterator[None]:
    """Name a command's options in the :class:`~seedkit.errors.OptionError` raised inside.

    ``options`` maps a library parameter (``"plda_path"``) or one of its values
    (``"check_spk_sort=False"``, ``"by=utt"``) to the option that sets it (``"--plda"``,
    ``"--no-spk-sort"``, ``"--per-utt"``); parameters not named are written as argparse spells
    them (``top_n`` -> ``--top-n``). An inner block's names win."""
    try:
        yield
    except OptionError as err:
        err.options = {**options, **err.options}
        raise


def entry(main):
    """Turn ``main(argv)`` into a console-script entry point that exits with its status."""
    def _entry() -> None:
        sys.exit(run_main(main))
    return _entry


class _ConfigValue(argparse.Action):
    """Parse one ``key=value`` with the config's parser and add it to ``namespace.<dest>`` (a
    dict in command-line order: the last value given for a key wins)."""

    def __init__(self, option_strings, dest, key=None, parse=None, **kw):
        super().__init__(option_strings, dest, **kw)
        self.key, self.parse = key, parse

    def __call__(self, parser, namespace, values, option_string=None):
        text = values if self.key is None else f"{self.key}={values}"
        key, value = self.parse(text)
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), key: value})


def add_config_options(parser: argparse.ArgumentParser, keys: Mapping[str, str],
                       parse: Callable[[str], tuple[str, Any]], title: str,
                       dest: str = "config_overrides") -> None:
    """Give ``parser`` one ``--some-key VALUE`` option per config key (``keys``: key -> help)
    and ``--set some_key=VALUE``; both hand ``key=VALUE`` to ``parse`` (which checks it and
    returns ``(key, value)``) and collect the results in ``args.<dest>`` (``None`` when none)."""
    group = parser.add_argument_group(title)
    for key, text in keys.items():
        group.add_argument("--" + key.replace("_", "-"), action=_ConfigValue, dest=dest,
                           key=key, parse=parse, default=None, metavar="VALUE", help=text)
    group.add_argument("--set", action=_ConfigValue, dest=dest, parse=parse, default=None,
                       metavar="KEY=VALUE", help="the same as --KEY VALUE (repeatable)")
