"""Embedding archives with Kaldi specifiers, on kaldiio.

Write specifiers (wspecifiers):
  ``ark,scp:x.ark,x.scp``  archive plus index (the usual form);
  ``ark:x.ark``            archive only;
  ``ark:-``                binary archive on stdout (for pipes).
Read specifiers (rspecifiers):
  ``scp:x.scp``            index (entries ``key x.ark:offset``);
  ``ark:x.ark``            archive read sequentially;
  ``ark:-``                archive on stdin.
Values are float32 vectors (one embedding per utterance) or matrices (one row per crop).

Files are written under temporary names and renamed when the writer is closed without error, so
an interrupted job never leaves an ``x.scp`` that a later stage could take for complete output. An
scp index is written last, after its archive is in place.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional

import kaldiio
import numpy as np
from kaldiio.matio import write_array

from seedkit.errors import SeedkitError, is_write_error, writing
from seedkit.fileio import iter_lines, temp_path_for


@dataclass(frozen=True)
class WSpecifier:
    ark: str  # path or "-"
    scp: Optional[str]


@dataclass(frozen=True)
class RSpecifier:
    kind: str  # "scp" or "ark"
    path: str  # path or "-"


def parse_wspecifier(spec: str) -> WSpecifier:
    """Parse ``ark,scp:a.ark,a.scp`` / ``ark:a.ark`` / ``ark:-``."""
    if ":" not in spec:
        raise SeedkitError(f"bad wspecifier {spec!r}; use ark,scp:x.ark,x.scp or ark:x.ark or "
                           "ark:-")
    opts, _, rest = spec.partition(":")
    flags = [o for o in opts.split(",") if o]
    kinds = [f for f in flags if f in ("ark", "scp")]
    unknown = [f for f in flags if f not in ("ark", "scp", "f", "nf", "p")]
    if unknown:
        raise SeedkitError(f"bad wspecifier {spec!r}: unsupported option(s) {unknown}")
    if kinds == ["ark", "scp"]:
        parts = rest.split(",")
        if len(parts) != 2 or not all(parts):
            raise SeedkitError(f"bad wspecifier {spec!r}: ark,scp needs two paths 'x.ark,x.scp'")
        if os.path.realpath(parts[0]) == os.path.realpath(parts[1]):
            raise SeedkitError(f"bad wspecifier {spec!r}: the archive and the index are the same "
                               "file; give two names (x.ark,x.scp)")
        return WSpecifier(parts[0], parts[1])
    if kinds == ["ark"]:
        if not rest:
            raise SeedkitError(f"bad wspecifier {spec!r}: missing path")
        return WSpecifier(rest, None)
    raise SeedkitError(f"bad wspecifier {spec!r}; use ark,scp:x.ark,x.scp or ark:x.ark or ark:-")


def parse_rspecifier(spec: str) -> RSpecifier:
    """Parse ``scp:x.scp`` / ``ark:x.ark`` / ``ark:-`` (options like ``ark,s,cs:`` are accepted)."""
    if ":" not in spec:
        raise SeedkitError(f"bad rspecifier {spec!r}; use scp:x.scp or ark:x.ark or ark:-")
    opts, _, rest = spec.partition(":")
    flags = [o for o in opts.split(",") if o]
    kinds = [f for f in flags if f in ("ark", "scp")]
    if len(kinds) != 1 or not rest:
        raise SeedkitError(f"bad rspecifier {spec!r}; use scp:x.scp or ark:x.ark or ark:-")
    if kinds[0] == "scp" and rest == "-":
        raise SeedkitError(f"bad rspecifier {spec!r}: scp from stdin is not supported; "
                           "use ark:- or a file")
    return RSpecifier(kinds[0], rest)


def spec_paths(spec: Optional[str]) -> list[str]:
    """The files an r/wspecifier (or a plain path) names; ``-`` and None name none."""
    if not spec:
        return []
    opts, sep, rest = spec.partition(":")
    if sep and {o for o in opts.split(",") if o} & {"ark", "scp"}:
        return [p for p in rest.split(",") if p and p != "-"]
    return [spec] if spec != "-" else []


def check_not_inputs(outputs: Iterable[Optional[str]], inputs: Iterable[Optional[str]]) -> None:
    """Raise when an output file is also one of the inputs (it would be overwritten)."""
    ins = {os.path.realpath(p): p for s in inputs for p in spec_paths(s)}
    for s in outputs:
        for p in spec_paths(s):
            if os.path.realpath(p) in ins:
                raise SeedkitError("this output is also an input of the command; writing it "
                                   "would destroy the input: give another output name", p)


class _StrictReader:
    """Wraps a binary stream for kaldiio: a short read inside an entry raises ``EOFError``.

    kaldiio reads a vector's data with one ``read(n)`` and accepts fewer bytes, so a truncated
    archive would give a shorter vector. One-byte reads (kaldiio reads keys byte by byte) may
    still return ``b""``: that is how the end of an archive is found.
    """

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if size is not None and size > 1 and len(data) < size:
            raise EOFError(f"archive ends inside an entry ({len(data)} of {size} bytes)")
        return data

    def __getattr__(self, name):
        return getattr(self._raw, name)


class EmbeddingWriter:
    """Write ``key -> float32 array`` to a wspecifier; use as a context manager.

    Keys must be unique and contain no whitespace. On a clean exit the temporary archive (then the
    scp) is renamed into place; on an exception both temporaries are removed.
    """

    def __init__(self, wspecifier: str):
        self.spec = parse_wspecifier(wspecifier)
        self._keys: set[str] = set()
        self._scp_lines: list[str] = []
        self._tmp_ark: Optional[Path] = None
        self._fd: Optional[BinaryIO] = None
        self.count = 0

    def __enter__(self) -> "EmbeddingWriter":
        if self.spec.ark == "-":
            self._fd = sys.stdout.buffer
        else:
            ark = Path(self.spec.ark)
            ark.parent.mkdir(parents=True, exist_ok=True)
            self._tmp_ark = temp_path_for(ark)
            self._fd = open(self._tmp_ark, "wb")
        return self

    def write(self, key: str, value: np.ndarray) -> None:
        """Append ``key -> value`` (converted to float32; a vector or a matrix)."""
        where = self.spec.ark
        if not key or any(c.isspace() for c in key):
            raise SeedkitError(f"embedding key {key!r} is empty or contains whitespace", where)
        if key in self._keys:
            raise SeedkitError(f"duplicate embedding key {key!r}; each key is written once",
                               where)
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim not in (1, 2):
            raise SeedkitError(f"embedding {key!r} must be a vector or matrix, got shape "
                               f"{arr.shape}", where)
        assert self._fd is not None, "use EmbeddingWriter as a context manager"
        self._keys.add(key)
        self._fd.write(key.encode("utf-8") + b" ")
        if self.spec.scp is not None:
            offset = self._fd.tell()
            self._scp_lines.append(f"{key} {self.spec.ark}:{offset}\n")
        write_array(self._fd, arr)
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._tmp_ark is None:  # stdout
            if self._fd is not None:
                self._fd.flush()
            return
        assert self._fd is not None
        tmp_scp: Optional[Path] = None
        if is_write_error(exc) and exc.filename in (None, str(self._tmp_ark)):
            exc.filename = self.spec.ark  # a failed write() names the archive asked for
        try:
            # a write error (disk full: often only at close, when the buffer is flushed) names
            # the archive asked for, and removes both temporaries
            with writing(self.spec.ark, self._tmp_ark):
                self._fd.close()
                if exc_type is not None:
                    return
                if self.spec.scp is not None:
                    scp = Path(self.spec.scp)
                    scp.parent.mkdir(parents=True, exist_ok=True)
                    tmp_scp = temp_path_for(scp)
                    with writing(scp, tmp_scp):
                        tmp_scp.write_text("".join(self._scp_lines), encoding="utf-8")
                    # An old index would point into the new archive at wrong offsets: drop it.
                    scp.unlink(missing_ok=True)
                os.replace(self._tmp_ark, self.spec.ark)
                if tmp_scp is not None:
                    os.replace(tmp_scp, self.spec.scp)
        finally:
            self._tmp_ark.unlink(missing_ok=True)
            if tmp_scp is not None:
                tmp_scp.unlink(missing_ok=True)


def write_embeddings(wspecifier: str, items: Iterable[tuple[str, np.ndarray]]) -> int:
    """Write all ``(key, array)`` items; returns the count."""
    with EmbeddingWriter(wspecifier) as w:
        for key, value in items:
            w.write(key, value)
    return w.count


def _check_value(arr: np.ndarray, key: str, where: str, line: int, check_finite: bool):
    arr = np.asarray(arr)
    if arr.ndim not in (1, 2):
        raise SeedkitError(f"entry {key!r} has shape {arr.shape}; expected a vector or matrix",
                           where, line)
    # the float64 sum is NaN/inf when an element is (one reduction; float32 values cannot
    # overflow it); only then look element by element
    if check_finite and not math.isfinite(arr.sum(dtype=np.float64)) \
            and not np.isfinite(arr).all():
        raise SeedkitError(f"embedding {key!r} contains NaN or inf; re-extract it", where, line)
    return arr.astype(np.float32, copy=False)


_FLOAT_TYPES = {b"FV ": (np.dtype("<f4"), 1), b"DV ": (np.dtype("<f8"), 1),
                b"FM ": (np.dtype("<f4"), 2), b"DM ": (np.dtype("<f8"), 2)}


def _read_binary_array(buf, off: int) -> Optional[np.ndarray]:
    """The plain binary Kaldi vector / matrix (``FV``, ``DV``, ``FM``, ``DM``) at ``off`` of
    ``buf``, read with one ``np.frombuffer``; None for anything else (compressed matrices, text,
    a truncated entry), which kaldiio then reads (and reports)."""
    head = buf[off:off + 5]
    kind = _FLOAT_TYPES.get(head[2:5]) if head[:2] == b"\0B" else None
    if kind is None:
        return None
    dtype, ndim = kind
    pos = off + 5
    size = len(buf)
    if pos + 5 * ndim > size:
        return None
    if ndim == 1:
        if buf[pos] != 4:
            return None
        (rows,) = struct.unpack_from("<i", buf, pos + 1)
        dims: tuple[int, ...] = (rows,)
        count = rows
    else:
        if buf[pos] != 4 or buf[pos + 5] != 4:
            return None
        rows, cols = struct.unpack_from("<i", buf, pos + 1)[0], struct.unpack_from(
            "<i", buf, pos + 6)[0]
        dims = (rows, cols)
        count = rows * cols
    pos += 5 * ndim
    if min(dims) < 0 or pos + count * dtype.itemsize > size:
        return None
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=pos).reshape(dims)
    return arr.astype(np.float32)  # a copy, detached from the mapped file


def read_scp_index(path: str) -> list[tuple[int, str, str]]:
    """Parse an scp file into ``(line, key, location)``; checks unique keys."""
    rows = []
    seen: dict[str, int] = {}
    for n, raw in iter_lines(path, "scp file", hint="run the stage that writes it"):
        fields = raw.split(maxsplit=1)
        if len(fields) != 2:
            raise SeedkitError("expected '<key> <ark>:<offset>'", path, n)
        key, loc = fields[0], fields[1].strip()
        if key in seen:
            raise SeedkitError(f"duplicate key {key!r} (first on line {seen[key]})", path, n)
        seen[key] = n
        rows.append((n, key, loc))
    return rows


def iter_embeddings(rspecifier: str, check_finite: bool = True
                    ) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(key, float32 array)`` in file order; the first bad entry raises with its place.

    For ``scp:`` the place is the scp file and line; for archives it is the archive and the
    1-based entry number (reported in the line field).
    """
    spec = parse_rspecifier(rspecifier)
    if spec.kind == "scp":
        handles: dict[str, BinaryIO] = {}
        maps: dict[str, Optional[mmap.mmap]] = {}
        try:
            for n, key, loc in read_scp_index(spec.path):
                ark, sep, off = loc.rpartition(":")
                if not sep or not off.isdigit():
                    raise SeedkitError(f"location {loc!r} is not '<ark>:<offset>'", spec.path, n)
                if ark not in handles:
                    if not os.path.isfile(ark):
                        raise SeedkitError(f"archive {ark} of {key!r} does not exist",
                                           spec.path, n)
                    handles[ark] = _StrictReader(open(ark, "rb"))
                    try:
                        maps[ark] = mmap.mmap(handles[ark].fileno(), 0, access=mmap.ACCESS_READ)
                    except (ValueError, OSError):  # empty file, or not mappable
                        maps[ark] = None
                fd = handles[ark]
                mm = maps[ark]
                arr = _read_binary_array(mm, int(off)) if mm is not None else None
                if arr is not None:
                    yield key, _check_value(arr, key, spec.path, n, check_finite)
                    continue
                try:
                    fd.seek(int(off))
                    arr = kaldiio.matio.read_kaldi(fd)
                except SeedkitError:
                    raise
                except Exception as err:  # kaldiio raises several types on corrupt data
                    raise SeedkitError(f"cannot read {key!r} at {loc} ({err}); the archive is "
                                       "truncated or corrupt: re-run the stage that wrote it",
                                       spec.path, n) from None
                yield key, _check_value(arr, key, spec.path, n, check_finite)
        finally:
            for mm in maps.values():
                if mm is not None:
                    mm.close()
            for fd in handles.values():
                fd.close()
        return
    if spec.path == "-":
        stream = _StrictReader(sys.stdin.buffer)
        close = False
        where = "<stdin>"
    else:
        if not os.path.isfile(spec.path):
            raise SeedkitError("archive not found; run the stage that writes it", spec.path)
        stream = _StrictReader(open(spec.path, "rb"))
        close = True
        where = spec.path
    try:
        n = 0
        seen: set[str] = set()
        it = kaldiio.load_ark(stream)
        while True:
            n += 1
            try:
                key, arr = next(it)
            except StopIteration:
                break
            except Exception as err:
                raise SeedkitError(f"cannot read archive entry {n} ({err}); the archive is "
                                   "truncated or corrupt", where, n) from None
            if key in seen:
                raise SeedkitError(f"duplicate key {key!r} in archive", where, n)
            seen.add(key)
            yield key, _check_value(arr, key, where, n, check_finite)
    finally:
        if close:
            stream.close()


def read_vector_scp(rspecifier: str) -> Optional[tuple[list[str], np.ndarray]]:
    """``(keys, [N, D] float32)`` of an ``scp:`` index whose entries are all plain float32
    vectors (``FV``) of one dimension, every value finite: read with one split of the index
    and one join of the vectors' bytes per archive (20,000 vectors of D = 256 in ~0.05 s, ~6x
    :func:`iter_embeddings`). None for anything else (another specifier, matrices, doubles,
    duplicate keys, a missing or short archive, NaN...): :func:`iter_embeddings` then reads
    the entries and reports the first bad one with its scp line."""
    spec = parse_rspecifier(rspecifier)
    if spec.kind != "scp":
        return None
    try:
        with open(spec.path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    tok = text.split()
    keys, locs = tok[0::2], tok[1::2]
    n = len(keys)
    lines = text.count("\n") + (not text.endswith("\n"))
    if n == 0 or len(tok) != 2 * n or lines != n or len(set(keys)) != n:
        return None  # blank or odd lines, duplicates: the checking reader says where
    parts = [loc.rpartition(":") for loc in locs]
    if not all(sep and off.isascii() and off.isdigit() for _, sep, off in parts):
        return None
    by_ark: dict[str, tuple[list[int], list[int]]] = {}
    for i, (ark, _, off) in enumerate(parts):
        rows, offs = by_ark.setdefault(ark, ([], []))
        rows.append(i)
        offs.append(int(off))
    blocks = [(rows, _read_vectors(ark, offs)) for ark, (rows, offs) in by_ark.items()]
    if any(b is None for _, b in blocks) or len({b.shape[1] for _, b in blocks}) != 1:
        return None
    if len(blocks) == 1:
        out = blocks[0][1]
    else:
        out = np.empty((n, blocks[0][1].shape[1]), dtype=np.float32)
        for rows, b in blocks:
            out[rows] = b
    if not math.isfinite(out.sum(dtype=np.float64)) and not np.isfinite(out).all():
        return None
    return keys, out


_FV_HEAD = b"\0BFV \x04"


def _read_vectors(ark: str, offsets: list[int]) -> Optional[np.ndarray]:
    """The FV vectors at ``offsets`` of ``ark`` (all of one dimension) as ``[n, D]``, or None."""
    try:
        with open(ark, "rb") as fd, mmap.mmap(fd.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            size = len(mm)
            if offsets[0] + 10 > size or mm[offsets[0]:offsets[0] + 6] != _FV_HEAD:
                return None
            (dim,) = struct.unpack_from("<i", mm, offsets[0] + 6)
            if dim <= 0 or max(offsets) + 10 + 4 * dim > size:
                return None
            head = _FV_HEAD + struct.pack("<i", dim)
            if b"".join([mm[o:o + 10] for o in offsets]) != head * len(offsets):
                return None
            data = b"".join([mm[o + 10:o + 10 + 4 * dim] for o in offsets])
    except (OSError, ValueError):  # missing, empty or unmappable archive
        return None
    return np.frombuffer(data, dtype="<f4").reshape(len(offsets), dim).astype(np.float32,
                                                                           copy=True)


def read_embeddings(rspecifier: str, check_finite: bool = True) -> dict[str, np.ndarray]:
    """Read a whole rspecifier into a dict (file order preserved)."""
    return dict(iter_embeddings(rspecifier, check_finite=check_finite))


def read_embedding_matrix(rspecifier: str, check_finite: bool = True
                          ) -> tuple[list[str], np.ndarray]:
    """Read vectors into ``(keys, [N, D] float32)``; all entries must be vectors of one size."""
    keys: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    where = parse_rspecifier(rspecifier).path
    for n, (key, arr) in enumerate(iter_embeddings(rspecifier, check_finite=check_finite),
                                   start=1):
        if arr.ndim != 1:
            raise SeedkitError(f"entry {key!r} is a matrix {arr.shape}; expected vectors "
                               "(for multi-crop embeddings use the matrix-aware tools)",
                               where, n)
        if dim is None:
            dim = arr.shape[0]
        elif arr.shape[0] != dim:
            raise SeedkitError(f"entry {key!r} has dimension {arr.shape[0]}, the first entry "
                               f"{keys[0]!r} has {dim}; mixed archives are not allowed",
                               where, n)
        keys.append(key)
        rows.append(arr)
    if not rows:
        raise SeedkitError("no embeddings: the archive or index is empty; re-run the stage "
                           "that wrote it", where)
    return keys, np.stack(rows)


__all__ = [
    "EmbeddingWriter",
    "RSpecifier",
    "WSpecifier",
    "iter_embeddings",
    "parse_rspecifier",
    "parse_wspecifier",
    "read_embedding_matrix",
    "read_embeddings",
    "read_scp_index",
    "read_vector_scp",
    "write_embeddings",
]
