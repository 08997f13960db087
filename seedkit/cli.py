"""Shared helpers for ``seedkit/bin`` scripts: the argparse prologue and the ERROR wrapper.

A bin script is::

    def get_parser() -> argparse.ArgumentParser: ...
    def main(argv=None) -> int:
        args = get_parser().parse_args(argv)
        ... call the library ...
    console_main = entry(main)
    if __name__ == "__main__":
        console_main()

and gets a console script ``seedkit-<name>`` (underscores become dashes) automatically.
"""

from __future__ import annotations

import logging
import sys

from seedkit.errors import SeedkitError, run_main

__all__ = ["SeedkitError", "run_main", "setup_logging", "entry"]


def setup_logging(verbose: bool = False) -> None:
    """Kaldi-like log lines on stderr: ``LOG (<prog>) message``."""
    prog = sys.argv[0].rsplit("/", 1)[-1]
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format=f"%(levelname)s ({prog}) %(message)s", force=True)


def entry(main):
    """Turn ``main(argv)`` into a console-script entry point that exits with its status."""
    def _entry() -> None:
        sys.exit(run_main(main))
    return _entry
