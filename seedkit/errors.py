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
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

#: errno values of a failed write: the disk is full, over quota, failing or read-only (or the file
#: is over the size limit). :func:`run_main` prints them as one ERROR line naming the output.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})


def is_write_error(err: BaseException) -> bool:
    """True for an :class:`OSError` of :data:`WRITE_ERRNOS` (disk full, quota, I/O error...)."""
    return isinstance(err, OSError) and err.errno in WRITE_ERRNOS


@contextlib.contextmanager
def writing(path: PathLike, *temps: PathLike) -> Iterator[None]:
    """Name ``path`` in a write error raised inside the block.

    ``f.write``/``close``/``flush`` raise ``OSError(ENOSPC)`` without a file name (or with the name
    of a temporary in ``temps``); such an error leaves the block carrying ``path``, the output the
    user asked for, so :func:`run_main` prints ``ERROR (<prog>): <path>:0: No space left on device;
    ...``.
    """
    try:
        yield
    except OSError as err:
        if is_write_error(err):
            tmp = {os.fspath(t) for t in temps}
            if err.filename2 is not None and os.fspath(err.filename2) in tmp:
                err.filename2 = None  # shutil.copyfile(src, tmp): the source is not the problem
                err.filename = None
            if err.filename is None or os.fspath(err.filename) in tmp:
                err.filename = os.fspath(path)
        raise


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


def _error_line(line: str) -> None:
    """Print an ERROR line on a line of its own: progress bars still on screen (a tqdm bar
    holds the line without a newline until it closes) are closed first, so the ERROR line
    neither follows a bar on its line nor is followed by a bar redrawn after it."""
    tqdm_mod = sys.modules.get("tqdm")
    bars = getattr(getattr(tqdm_mod, "tqdm", None), "_instances", None)
    for bar in list(bars or ()):
        try:
            bar.close()
        except Exception:  # a bar that cannot close must not hide the error
            pass
    print(line, file=sys.stderr, flush=True)


def run_main(main: Callable[[Optional[Sequence[str]]], Optional[int]], prog: Optional[str] = None,
             argv: Optional[Sequence[str]] = None) -> int:
    """Run a bin script's ``main(argv)``; print a user-caused failure as one ERROR line.

    * :class:`SeedkitError` -> ``ERROR (<prog>): <file>:<line>: <msg>``, status 1;
    * an OS error on a named file (permission denied...) -> the same form, status 1; a write error
      (:data:`WRITE_ERRNOS`: disk full, quota, I/O error, read-only) names the output being
      written (see :func:`writing`), status 1;
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
        _error_line(err.format(prog))
        return 1
    except UsageError as err:
        _error_line(f"ERROR ({prog}): {err}")
        return 2
    except BrokenPipeError:  # a downstream reader closed the pipe: not our error to report
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        if err.filename is None and not is_write_error(err):
            raise
        text = err.strerror or str(err)
        if is_write_error(err):
            text += ("; nothing was left under this name: free space (or fix the disk, or write "
                     "elsewhere) and run again")
        where = err.filename if err.filename is not None else "(an output)"
        _error_line(SeedkitError(text, where).format(prog))
        return 1
    except MemoryError:
        _error_line(f"ERROR ({prog}): out of memory; use smaller inputs or sizes (batch size, "
                    "model size)")
        return 1
    except RuntimeError as err:  # torch's allocators raise RuntimeError when memory runs out
        text = str(err)
        if "can't allocate memory" not in text and "out of memory" not in text:
            raise
        short = " ".join(text.split())[:200]
        _error_line(f"ERROR ({prog}): out of memory ({short}); use smaller inputs or sizes "
                    "(batch size, model size)")
        return 1
    except KeyboardInterrupt:
        _error_line(f"ERROR ({prog}): interrupted")
        return 130
    finally:
        argparse.ArgumentParser.error = saved_error  # type: ignore[method-assign]
    return int(status or 0)
