"""Libri-Light (``<corpus_dir>/small/...``) -> ``librilight_<subset>``: one utterance per chapter
file, key ``<spk>-<book>-<file>`` (or one per voice-activity segment).

lhotse 1.33 behaviours worked around:

- ``prepare_librilight`` walks small, medium and large and fails (``No recordings left``) when only
  ``small`` is on disk; seedkit restricts it to the parts present (``LIBRILIGHT``, patched for the
  length of the call).
- ``prepare_librilight`` finds each json by replacing every ``flac`` in the path; a corpus path that
  contains ``flac`` elsewhere breaks it, so seedkit refuses such a path with a clear error.
- Libri-Light recording ids are relative paths (``small/100/<book>/<file>``) that do not start with
  the speaker, so seedkit re-keys them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import lhotse.recipes.librilight as ll

from seedkit.errors import PathLike, SeedkitError
from seedkit.prepare.common import (
    mark_prepared,
    need_dir,
    patched,
    prepared_dirs,
    run_lhotse,
    save_manifests,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir

log = logging.getLogger(__name__)


def librilight_key(rec_id: str) -> str:
    """``small/100/<book>/<file>`` -> ``100-<book>-<file>`` (starts with the speaker)."""
    parts = rec_id.split("/")
    if len(parts) < 4:
        raise SeedkitError(f"unexpected Libri-Light recording id {rec_id!r}; expected "
                           "<subset>/<speaker>/<book>/<file>")
    return "-".join(parts[1:])


def prepare_librilight(corpus_dir: PathLike, data_root: PathLike, num_jobs: int = 1,
                       segments: bool = False, manifests: Optional[PathLike] = None,
        force: bool = False) -> list[str]:
    """Libri-Light (``<corpus_dir>/small/...``) -> ``librilight_<subset>``.

    One utterance per chapter file (``segments=False``, as SEED crops once per file), or one per
    voice-activity segment of the json (``segments=True``, writes ``segments``).
    """
    corpus_dir = need_dir(corpus_dir, "Libri-Light directory",
                          "download small.tar (seedkit-download-corpus librilight) or pass its "
                          "path (the directory holding small/)")
    corpus_dir = Path(corpus_dir)
    if "flac" in str(corpus_dir):
        raise SeedkitError("lhotse's Libri-Light recipe finds each json by replacing 'flac' in "
                           "the whole path; move or link the corpus to a path without 'flac'",
                           corpus_dir)
    data_root = Path(data_root)
    if (dirs := prepared_dirs(data_root, "librilight", force)) is not None:
        return dirs
    present = tuple(p for p in ll.LIBRILIGHT if any((corpus_dir / p).rglob("*.flac")))
    if not present:
        raise SeedkitError("no Libri-Light part (small/medium/large) with .flac files here",
                           corpus_dir)
    with patched(ll, "LIBRILIGHT", present):
        m = run_lhotse("prepare_librilight", corpus_dir, "*.flac", ll.prepare_librilight,
                       corpus_dir, output_dir=None, num_jobs=num_jobs)
    written = []
    for part in present:
        recs, sups = m[part]["recordings"], m[part]["supervisions"]
        save_manifests(manifests or data_root / "manifests",
                       "librilight", part, recs, sups)
        name = f"librilight_{part}"
        dd = write_lhotse_data_dir(
            recs, sups, data_root / name, rec_key=librilight_key, segments=segments,
            utt_key=lambda s: librilight_key(s.recording_id) + "-" + s.id.rsplit("_", 1)[1])
        log.info("%s: %d utterances, %d speakers", name, len(dd), len(dd.spk2utt))
        written.append(name)
    mark_prepared(data_root, "librilight", written)
    return written


__all__ = ["librilight_key", "prepare_librilight"]
