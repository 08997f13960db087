"""MUSAN (raw layout ``{music,noise,speech}/<subset>/*.wav``) -> ``musan`` (every file,
``utt2spk`` = its category) and ``musan_<category>``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from lhotse import RecordingSet
from lhotse.recipes import prepare_musan as lhotse_prepare

from seedkit.errors import PathLike, SeedkitError
from seedkit.prepare.common import (
    mark_prepared,
    need_dir,
    prepared_dirs,
    run_lhotse,
    save_manifests,
    whole_supervisions,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir

log = logging.getLogger(__name__)

MUSAN_CATEGORIES = ("music", "noise", "speech")


def prepare_musan(corpus_dir: PathLike, data_root: PathLike, name: str = "musan",
                  categories: tuple[str, ...] = MUSAN_CATEGORIES,
                  manifests: Optional[PathLike] = None, force: bool = False) -> list[str]:
    """Raw MUSAN (``<corpus_dir>/{music,noise,speech}/<subset>/*.wav``) -> ``<name>`` (all files,
    ``utt2spk`` = category) and ``<name>_<category>``. No musan_split step is needed: the
    augmentation crops noise files at random offsets itself."""
    corpus_dir = need_dir(corpus_dir, "MUSAN directory",
                          "download it (seedkit-download-corpus musan) or pass its path")
    data_root = Path(data_root)
    if (dirs := prepared_dirs(data_root, name, force)) is not None:
        return dirs
    for cat in categories:
        d = need_dir(corpus_dir / cat, f"MUSAN {cat}/ directory",
                     "the MUSAN layout is <musan>/{music,noise,speech}/<subset>/*.wav")
        if not any(d.rglob("*.wav")):
            raise SeedkitError(f"MUSAN {cat}/ has no .wav files; the MUSAN layout is "
                               f"<musan>/{cat}/<subset>/*.wav", d)
    m = run_lhotse("prepare_musan", corpus_dir, "*.wav", lhotse_prepare, corpus_dir,
                   output_dir=None, parts=categories)
    written = []
    all_recs = []
    for cat in categories:
        recs = m[cat]["recordings"]
        save_manifests(manifests or data_root / "manifests",
                       name, cat, recs, m[cat].get("supervisions"))
        write_lhotse_data_dir(recs, whole_supervisions(recs, lambda r, c=cat: c),
                              data_root / f"{name}_{cat}")
        written.append(f"{name}_{cat}")
        all_recs.extend(recs)
    everything = RecordingSet.from_recordings(all_recs)
    cat_of = {r.id: cat for cat in categories for r in m[cat]["recordings"]}
    dd = write_lhotse_data_dir(everything, whole_supervisions(everything, lambda r: cat_of[r.id]),
                               data_root / name)
    log.info("%s: %d files (%s)", name, len(dd),
             ", ".join(f"{c} {len(dd.spk2utt.get(c, []))}" for c in categories))
    written.insert(0, name)
    mark_prepared(data_root, name, written)
    return written


__all__ = ["MUSAN_CATEGORIES", "prepare_musan"]
