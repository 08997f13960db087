"""One error type for every user-caused failure, and the one place that prints it.

Every user-caused failure (missing file, bad line, wrong sample rate, unknown key, wrong
dimension, NaN) raises :class:`SeedkitError` carrying the file and line it concerns. Command-line
entry points wrap their ``main`` with :func:`run_main`, which turns the exception into exactly one
line on stderr::

    ERROR (<prog>): <file>:<line>: <what is wrong and what to do>

and exits with status 1. Command-line mistakes caught by argparse end the same way (after the
usage line), with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


class SeedkitError(Exception):
    """A failure the user can fix: names the file, the 1-based line (0 when not line-specific)
    and what to do."""

    def __init__(self, message: str, path: Optional[PathLike] = None, line: int = 0):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.line = int(line)
        super().__init__(self.location() + message)

    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}: "

    def format(self, prog: str) -> str:
        """The one-line form printed by command-line tools."""
        text = " ".join(str(self).split("\n"))
        return f"ERROR ({prog}): {text}"


class UsageError(Exception):
    """A bad command line (raised in place of argparse's exit, printed as one ERROR line)."""


def _argparse_error(parser: argparse.ArgumentParser, message: str):
    parser.print_usage(sys.stderr)
    raise UsageError(f"{message} (see {parser.prog} --help)")


def run_main(main: Callable[[Optional[Sequence[str]]], Optional[int]], prog: Optional[str] = None,
             argv: Optional[Sequence[str]] = None) -> int:
    """Run a bin script's ``main(argv)``; print a user-caused failure as one ERROR line.

    * :class:`SeedkitError` -> ``ERROR (<prog>): <file>:<line>: <msg>``, status 1;
    * an OS error on a named file (permission denied, disk full...) -> the same form, status 1;
    * a bad command line (argparse) -> the usage line, then ``ERROR (<prog>): <msg>``, status 2.

    Returns the exit status; console scripts call ``sys.exit(run_main(main))`` (see
    :func:`seedkit.cli.entry`).
    """
    prog = prog or os.path.basename(sys.argv[0]) or "seedkit"
    saved_error = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _argparse_error  # type: ignore[method-assign]
    try:
        status = main(argv)
    except SeedkitError as err:
        print(err.format(prog), file=sys.stderr, flush=True)
        return 1
    except UsageError as err:
        print(f"ERROR ({prog}): {err}", file=sys.stderr, flush=True)
        return 2
    except BrokenPipeError:  # a downstream reader closed the pipe: not our error to report
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        if err.filename is None:
            raise
        print(SeedkitError(err.strerror or str(err), err.filename).format(prog),
              file=sys.stderr, flush=True)
        return 1
    except MemoryError:
        print(f"ERROR ({prog}): out of memory; use smaller inputs or sizes (batch size, model "
              "size)", file=sys.stderr, flush=True)
        return 1
    except RuntimeError as err:  # torch's allocators raise RuntimeError when memory runs out
        text = str(err)
        if "can't allocate memory" not in text and "out of memory" not in text:
            raise
        short = " ".join(text.split())[:200]
        print(f"ERROR ({prog}): out of memory ({short}); use smaller inputs or sizes (batch "
              "size, model size)", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"ERROR ({prog}): interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        argparse.ArgumentParser.error = saved_error  # type: ignore[method-assign]
    return int(status or 0)
