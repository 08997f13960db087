"""One error type for every user-caused failure, and the one place that prints it.

Every user-caused failure (missing file, bad line, wrong sample rate, unknown key, wrong
dimension, NaN) raises :class:`SeedkitError` carrying the file and line it concerns. Command-line
entry points wrap their ``main`` with :func:`run_main`, which turns the exception into exactly one
line on stderr::

    ERROR (<prog>): <file>:<line>: <what is wrong and what to do>

and exits with status 1.
"""

from __future__ import annotations

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


def run_main(main: Callable[[Optional[Sequence[str]]], Optional[int]], prog: Optional[str] = None,
             argv: Optional[Sequence[str]] = None) -> int:
    """Run a bin script's ``main(argv)``; print a :class:`SeedkitError` as one ERROR line.

    Returns the exit status; bin scripts call ``sys.exit(run_main(main))``.
    """
    prog = prog or os.path.basename(sys.argv[0]) or "seedkit"
    try:
        status = main(argv)
    except SeedkitError as err:
        print(err.format(prog), file=sys.stderr, flush=True)
        return 1
    except BrokenPipeError:  # a downstream reader closed the pipe: not our error to report
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            return 1
    except KeyboardInterrupt:
        print(f"ERROR ({prog}): interrupted", file=sys.stderr, flush=True)
        return 130
    return int(status or 0)
