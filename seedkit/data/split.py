"""Splitting a Kaldi data directory into N parts for parallel jobs (Kaldi's ``split_data.sh``):
contiguous, near-equal parts by speaker or by utterance, written as ``<data>/split<N>[utt]/<i>/``
and reused while the data dir's content is unchanged."""

from __future__ import annotations

import bisect
import hashlib
from collections import OrderedDict
from pathlib import Path

from seedkit.data.datadir import DataDir, subset_data_dir, write_data_dir
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_text_writer, c_sorted

__all__ = ["split_data_dir", "write_split"]


def _contiguous_bounds(sizes: list[int], num_parts: int) -> list[int]:
    """Cut ``sizes`` (in order) into ``num_parts`` non-empty runs of near-equal total size.

    Returns ``num_parts + 1`` indices ``0 = b0 < b1 < ... = len(sizes)``; run ``i`` holds units
    ``b[i]..b[i+1]-1``. Each cut is the position whose cumulative size is nearest to its ideal,
    while leaving at least one unit for every later part. The ideal sizes are Kaldi's: equal,
    the first ``total % num_parts`` parts one larger (so units of size 1 split exactly so).
    """
    cum = [0]
    for s in sizes:
        cum.append(cum[-1] + s)
    total, m = cum[-1], len(sizes)
    bounds = [0]
    for j in range(1, num_parts):
        lo, hi = bounds[-1] + 1, m - (num_parts - j)
        target = j * (total // num_parts) + min(j, total % num_parts)
        b = bisect.bisect_left(cum, target, lo, hi + 1)
        candidates = [c for c in (b - 1, b) if lo <= c <= hi]
        bounds.append(min(candidates, key=lambda c: (abs(cum[c] - target), c)))
    bounds.append(m)
    return bounds


def split_data_dir(dd: DataDir, num_parts: int, by: str = "speaker") -> list[DataDir]:
    """Split into ``num_parts`` non-empty contiguous parts of near-equal size (in utterances).

    ``by="speaker"`` keeps each speaker's utterances in one part (Kaldi's ``split_data.sh``);
    ``by="utt"`` splits utterances (``split_data.sh --per-utt``). Parts are contiguous in C order
    when utterance ids sort in speaker order (see :func:`validate_data_dir`), so concatenating
    per-part outputs in part order gives a C-sorted whole.
    """
    if num_parts < 1:
        raise SeedkitError(f"number of parts must be >= 1, got {num_parts}")
    if by not in ("speaker", "utt"):
        raise SeedkitError(f"split must be by 'speaker' or 'utt', got {by!r}")
    if by == "utt":
        units = [[u] for u in c_sorted(dd.utt2spk)]
    else:
        groups: OrderedDict[str, list[str]] = OrderedDict()
        for u in c_sorted(dd.utt2spk):
            groups.setdefault(dd.utt2spk[u], []).append(u)
        units = list(groups.values())
    if len(units) < num_parts:
        what = "speakers" if by == "speaker" else "utterances"
        per_utt = (" or split by utterance (", Param("by", "utt"), ")") if by == "speaker" else ()
        raise OptionError(f"cannot split {len(units)} {what} into {num_parts} parts; use fewer "
                          "jobs (", Param("num_parts"), ")", *per_utt, path=dd.path)
    bounds = _contiguous_bounds([len(u) for u in units], num_parts)
    return [subset_data_dir(dd, [u for unit in units[a:b] for u in unit])
            for a, b in zip(bounds, bounds[1:])]


def _content_hash(dd: DataDir) -> str:
    """A hash of every table of ``dd`` (what a split depends on)."""
    h = hashlib.sha256()
    tables: list[tuple[str, dict]] = [("wav.scp", dd.wav_scp), ("utt2spk", dd.utt2spk),
                                      ("utt2dur", dd.utt2dur or {}),
                                      ("segments", dd.segments or {})]
    tables += sorted(dd.extra.items()) + sorted(dd.reco_extra.items())
    for name, table in tables:
        h.update(f"\0{name}\0".encode())
        for k in c_sorted(table):
            h.update(f"{k} {table[k]}\n".encode())
    return h.hexdigest()


def write_split(dd: DataDir, data_dir: PathLike, num_parts: int, by: str = "speaker") -> Path:
    """Write Kaldi's split layout: ``<data>/split<N>[utt]/<1..N>/`` and return the split root.

    An existing complete split of the same content is reused (a re-run is a no-op); a split of
    older content is rewritten.
    """
    data_dir = Path(data_dir)
    root = data_dir / (f"split{num_parts}" + ("utt" if by == "utt" else ""))
    stamp = root / ".complete"
    wanted = f"{by} {num_parts} {_content_hash(dd)}\n"
    if stamp.is_file() and stamp.read_text() == wanted \
            and all((root / str(i) / "utt2spk").is_file() for i in range(1, num_parts + 1)):
        return root
    parts = split_data_dir(dd, num_parts, by=by)
    stamp.unlink(missing_ok=True)
    for i, part in enumerate(parts, start=1):
        write_data_dir(part, root / str(i))
    with atomic_text_writer(stamp) as f:
        f.write(wanted)
    return root
