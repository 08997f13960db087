"""Atomic output files and line-oriented Kaldi text tables (``key value...`` per line)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from seedkit.errors import PathLike, SeedkitError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of finished files: what ``open(path, "w")`` would give (0o666 minus the umask).
_FILE_MODE = 0o666 & ~_umask()


def temp_path_for(path: PathLike) -> Path:
    """A temporary sibling name of ``path`` (same directory, so the final rename is atomic).

    The file is created empty with the permissions a plain ``open(path, "w")`` would give
    (``mkstemp`` alone makes it 0600, which other users of a shared cluster could not read).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``path`` only if the block finishes without error.

    On error the temporary file is removed, so a later stage never sees a partial ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_text_writer(path: PathLike):
    """Open a text file for writing that appears at ``path`` only when complete."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            yield f


def write_lines(path: PathLike, lines: Iterable[str]) -> None:
    """Atomically write ``lines`` (without newlines) to ``path``."""
    with atomic_text_writer(path) as f:
        for line in lines:
            f.write(line + "\n")


def iter_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, without the newline) of a UTF-8 text table.

    A missing file, a blank line (Kaldi tools reject them too) or a line that is not UTF-8 raise
    :class:`SeedkitError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise SeedkitError("file not found; check the path or run the stage that creates it", path)
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise SeedkitError(f"not UTF-8 text ({err.reason}); is this a binary file?",
                                   path, n) from None
            if not line.strip():
                raise SeedkitError("empty line; remove it", path, n)
            yield n, line


def iter_table(path: PathLike, min_fields: int = 2, max_fields: int | None = None
               ) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a whitespace-separated text table.

    Blank lines are errors (Kaldi tools reject them too); so are lines with too few or too many
    fields. Raises :class:`SeedkitError` naming the file and line.
    """
    for n, line in iter_lines(path):
        fields = line.split()
        if len(fields) < min_fields:
            raise SeedkitError(
                f"expected at least {min_fields} fields, got {len(fields)}: {line.strip()!r}",
                path, n)
        if max_fields is not None and len(fields) > max_fields:
            raise SeedkitError(
                f"expected at most {max_fields} fields, got {len(fields)}: {line.strip()!r}",
                path, n)
        yield n, fields


def c_sorted(keys: Iterable[str]) -> list[str]:
    """Sort as ``LC_ALL=C sort`` does: by the UTF-8 bytes."""
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def is_c_sorted(keys: list[str]) -> bool:
    """True when ``keys`` are in ``LC_ALL=C sort`` order (duplicates allowed)."""
    enc = [k.encode("utf-8") for k in keys]
    return all(a <= b for a, b in zip(enc, enc[1:]))
