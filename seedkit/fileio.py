"""Atomic output files, line-oriented Kaldi text tables (``key value...`` per line) and the lines
of a YAML file's top-level keys."""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Optional

import yaml

from seedkit.errors import PathLike, SeedkitError, writing


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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                   dir=path.parent or ".")
    except OSError as err:
        raise SeedkitError(f"cannot write here ({err.strerror or err}); check the directory "
                           "and its permissions", path) from None
    try:
        os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``path`` only if the block finishes without error.

    On error (a full disk included) the temporary file is removed, so a later stage never sees a
    partial ``path``; a write error names ``path`` (:func:`seedkit.errors.writing`).
    """
    path = Path(path)
    if path.is_dir():  # else the final rename fails naming the temporary file, after all the work
        raise SeedkitError("this output is a directory; give a file name", path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SeedkitError(f"cannot create the directory of this output ({err.strerror or err}: "
                           f"{err.filename}); check the path", path) from None
    tmp = temp_path_for(path)
    try:
        with writing(path, tmp):
            yield tmp
            os.replace(tmp, path)
    except BaseException as err:
        full = (isinstance(err, Exception) and not isinstance(err, OSError)
                and _no_space_left(tmp))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if full:
            # a library or program that hides the errno of its failed write (soundfile raises
            # LibsndfileError(2, ''), torch.save a RuntimeError, ffmpeg's failure is a
            # SeedkitError about the audio) on a disk now full: say so
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path)) from err
        raise


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a new hidden sibling directory of ``path`` to build in; when the block finishes it
    replaces ``path`` (an old ``path`` is removed first), on error it is removed. It gets the
    permissions ``mkdir`` would give (0777 minus the umask; ``mkdtemp`` alone makes 0700)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _no_space_left(path: Path) -> bool:
    """True when the file system of ``path`` has no free block left (for this user)."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail == 0 or st.f_bfree == 0


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


#: Leading bytes of formats a user gives where text is expected, and what to say about them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"PK\x03\x04", "a zip archive (or a torch checkpoint / .npz)"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"RIFF", "RIFF audio (a wav file)"),
    (b"fLaC", "FLAC audio"),
    (b"OggS", "Ogg audio"),
    (b"ID3", "MP3 audio"),
    (b"\xff\xfb", "MP3 audio"),
    (b"\x93NUMPY", "a numpy .npy array"),
    (b"\x80\x02", "a Python pickle"),
    (b"\x7fELF", "an executable"),
    (b"\xff\xfe", "UTF-16 text (convert it: iconv -f UTF-16 -t UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (convert it: iconv -f UTF-16 -t UTF-8)"),
)

_ARK_RE = re.compile(rb"^[^\s\x00]+ \x00B")


def describe_binary(head: bytes) -> Optional[str]:
    """What the leading bytes of a file look like when they are not text, or None.

    Bytes that decode as UTF-8 without NULs are text whatever they start with (a table may well
    begin with a key ``ID3...`` or ``RIFF...``).
    """
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return None
        except UnicodeDecodeError as err:
            if err.start >= len(head) - 3 and "unexpected end" in err.reason:
                return None
    if _ARK_RE.match(head):
        return "a binary Kaldi archive (an ark; read it with ark:FILE, not as a text table)"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "a tar archive"
    if b"\x00" in head:
        return "binary data"
    return None


def _a(what: str) -> str:
    return ("an " if what[:1] in "aeiou" or what.startswith(("scp", "utt", "rms")) else "a ") + what


def is_gzip(path: PathLike) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_text(path: PathLike, what: str = "file", gzip_ok: bool = False,
              hint: str = "check the path or run the stage that creates it") -> str:
    """The whole UTF-8 text of ``path``: the one text-reading path of seedkit.

    A missing file, a binary or compressed file (named by what it looks like: a Kaldi archive, a
    PNG, gzip...) and text that is not UTF-8 raise :class:`SeedkitError` naming the file (and the
    line of the first undecodable byte). With ``gzip_ok`` a gzip-compressed file (whatever its
    name) is read as its decompressed text.
    """
    path = Path(path)
    if path.is_dir():
        raise SeedkitError(f"is a directory; expected a {what}", path)
    if not path.is_file():
        raise SeedkitError(f"{what} not found; {hint}", path)
    data = path.read_bytes()
    if gzip_ok and data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise SeedkitError(f"gzip-compressed {what} that cannot be decompressed ({err}); "
                               "it is truncated or corrupt", path) from None
    looks = describe_binary(data[:512])
    if looks is not None:
        extra = ""
        if looks.startswith("gzip") and not gzip_ok:
            extra = "; it must be plain text here: decompress it (gunzip)"
        elif "compressed" in looks:
            extra = "; decompress it first"
        raise SeedkitError(f"expected {_a(what)} (UTF-8 text) but this looks like {looks}{extra}",
                           path, 0)
    try:
        text = data.decode("utf-8")
        # a UTF-8 byte-order mark (Windows editors) is not part of the first key
        return text[1:] if text.startswith("\ufeff") else text
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise SeedkitError(
            f"not UTF-8 text ({err.reason} at byte {err.start}); expected {_a(what)}: convert it "
            "to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) or give the right file", path, line
        ) from None


def iter_lines(path: PathLike, what: str = "file", gzip_ok: bool = False,
               hint: str = "check the path or run the stage that creates it"
               ) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, without the newline) of a UTF-8 text table.

    A missing file, a binary or compressed file, a blank line (Kaldi tools reject them too) or a
    line that is not UTF-8 raise :class:`SeedkitError` naming the file and line (see
    :func:`read_text`).
    """
    text = read_text(path, what, gzip_ok=gzip_ok, hint=hint)
    if not text:
        return
    body = text[:-1] if text.endswith("\n") else text
    for n, line in enumerate(body.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            raise SeedkitError("empty line; remove it", path, n)
        yield n, line


def iter_table(path: PathLike, min_fields: int = 2, max_fields: int | None = None,
               what: str = "file", gzip_ok: bool = False,
               hint: str = "check the path or run the stage that creates it"
               ) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a whitespace-separated text table.

    Blank lines are errors (Kaldi tools reject them too); so are lines with too few or too many
    fields. Raises :class:`SeedkitError` naming the file and line.
    """
    for n, line in iter_lines(path, what, gzip_ok, hint):
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


def yaml_key_lines(text: str) -> dict[str, int]:
    """1-based line of each top-level key of a YAML mapping, for error messages ({} when the
    text is not YAML or not a mapping). Used by the SEED and the backbone configs."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            lines[str(k.value)] = k.start_mark.line + 1
    return lines
