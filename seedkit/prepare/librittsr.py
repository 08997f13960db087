"""LibriTTS-R (the ``LibriTTS_R`` directory) -> ``librittsr_<part>``, e.g.
``librittsr_train_clean_100``, keys ``19-198-000000-000000``.

LibriTTS-R ids use ``_``, which breaks Kaldi's sort agreement between ``utt2spk`` and ``spk2utt``
(``190_x`` < ``19_x``), so ``_`` becomes ``-``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from lhotse.recipes import prepare_librittsr as lhotse_prepare

from seedkit.errors import PathLike
from seedkit.prepare.common import (
    mark_prepared,
    need_dir,
    prepared_dirs,
    run_lhotse,
    save_manifests,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir

log = logging.getLogger(__name__)


def librittsr_dir_name(part: str) -> str:
    """``train-clean-100`` -> ``librittsr_train_clean_100``."""
    return "librittsr_" + part.replace("-", "_")


def prepare_librittsr(corpus_dir: PathLike, data_root: PathLike,
                      parts: tuple[str, ...] = ("train-clean-100", "train-clean-360"),
                      num_jobs: int = 1, manifests: Optional[PathLike] = None,
                      force: bool = False) -> list[str]:
    """LibriTTS-R (``<corpus_dir>`` = the ``LibriTTS_R`` directory) -> ``librittsr_<part>``."""
    corpus_dir = need_dir(corpus_dir, "LibriTTS-R directory (LibriTTS_R)",
                          "download it (seedkit-download-corpus librittsr) or pass its path")
    data_root = Path(data_root)
    if (dirs := prepared_dirs(data_root, "librittsr", force)) is not None:
        return dirs
    for part in parts:
        need_dir(corpus_dir / part, f"LibriTTS-R part {part}",
                 "download that part or leave it out of --parts")
    m = run_lhotse("prepare_librittsr", corpus_dir, "*.wav", lhotse_prepare, corpus_dir,
                   dataset_parts=list(parts), output_dir=None, num_jobs=num_jobs)
    written = []
    for part in parts:
        recs, sups = m[part]["recordings"], m[part]["supervisions"]
        save_manifests(manifests or data_root / "manifests",
                       "librittsr", part, recs, sups)
        name = librittsr_dir_name(part)
        dd = write_lhotse_data_dir(recs, sups, data_root / name,
                                   rec_key=lambda r: r.replace("_", "-"))
        log.info("%s: %d utterances, %d speakers", name, len(dd), len(dd.spk2utt))
        written.append(name)
    mark_prepared(data_root, "librittsr", written)
    return written


__all__ = ["librittsr_dir_name", "prepare_librittsr"]
