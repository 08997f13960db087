"""One error type for every user-caused failure, and the one place that prints it.

Every user-caused failure (missing file, bad line, wrong sample rate, unknown key, wrong
dimension, NaN) raises :class:`SeedkitError` carrying the file and line it concerns. Command-line
entry points wrap their ``main`` with :func:`run_main`, which turns the exception into exactly one
line on stderr::

    ERROR (<prog>): <file>:<line>: <what is wrong and what to do>

and exits with status 1. Command-line mistakes caught by argparse end the same way (after the
usage line), with status 2.

A library error about a parameter's value is an :class:`OptionError`: its text names the
parameters as :class:`Param` parts, which the library writes as its own names (``lda_dim=300``)
and a command line as its options (``--lda-dim 300``; a bin whose options are spelled otherwise
names them with :func:`seedkit.cli.option_names`), so the library never names a CLI flag.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import errno
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

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

    def at(self, path: Optional[PathLike], line: int = 0) -> SeedkitError:
        """This error (same type, same words) located at ``path:line`` instead: for a caller that
        knows which file the user should look at."""
        located = copy.copy(self)
        located.path = None if path is None else os.fspath(path)
        located.line = int(line)
        located.args = (located.location() + located.message,)
        return located

    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}: "

    def format(self, prog: str) -> str:
        """The one-line form printed by command-line tools."""
        text = " ".join(str(self).split("\n"))
        return f"ERROR ({prog}): {text}"


@dataclass(frozen=True)
class Param:
    """A parameter named in an :class:`OptionError`, optionally with the value the text is about.

    The library writes ``name`` (``name=value!r``); a command line writes its option: the one a
    bin maps ``name=value`` or ``name`` to (:func:`seedkit.cli.option_names`), else argparse's
    spelling of ``name`` (``lda_dim`` -> ``--lda-dim``); a value follows the option (``--lda-dim
    300``) unless it is a bool (a switch: ``--skip-missing``; ``False``: ``--no-<name>``) or the
    option was mapped from ``name=value`` (``by=utt`` -> ``--per-utt``)."""

    name: str
    value: Any = None

    def as_param(self) -> str:
        """The library's wording: ``name`` or ``name=value!r``."""
        return self.name if self.value is None else f"{self.name}={self.value!r}"

    def as_option(self, options: Mapping[str, str]) -> str:
        """The command line's wording, with a bin's option names ``options``."""
        if self.value is not None and f"{self.name}={self.value}" in options:
            return options[f"{self.name}={self.value}"]
        flag = options.get(self.name, "--" + self.name.replace("_", "-"))
        if self.value is None or self.value is True:
            return flag
        if self.value is False:
            return options.get(self.name, "--no-" + self.name.replace("_", "-"))
        return f"{flag} {self.value}"


class OptionError(SeedkitError):
    """A :class:`SeedkitError` whose text names parameters (:class:`Param` parts between text
    parts): ``str(err)`` and ``err.message`` name them as the library does, the ERROR line of a
    command (:meth:`format`) as its options (``options``, added by
    :func:`seedkit.cli.option_names` on the way out of a bin)."""

    def __init__(self, *parts: Union[str, Param], path: Optional[PathLike] = None,
                 line: int = 0):
        self.parts = parts
        self.options: dict[str, str] = {}
        super().__init__(self.worded(Param.as_param), path, line)

    def worded(self, name: Callable[[Param], str]) -> str:
        """The text with each :class:`Param` part written by ``name``."""
        return "".join(p if isinstance(p, str) else name(p) for p in self.parts)

    def format(self, prog: str) -> str:
        """The ERROR line, naming the command's options."""
        text = self.worded(lambda p: p.as_option(self.options))
        return f"ERROR ({prog}): " + " ".join((self.location() + text).split("\n"))


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
