"""VoxConverse-test-SV (the SEED repo's zip) -> ``voxconverse_sv``: the files of
``trials_wo_overlap.txt``, key = path with ``/`` -> ``-``, and all its trials.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from seedkit.data.trials import read_trials, voxceleb_path_to_key
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import c_sorted
from seedkit.prepare.common import (
    convert_trials,
    mark_prepared,
    need_dir,
    need_file,
    prepared_dirs,
    recordings_from_files,
    save_manifests,
    whole_supervisions,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir

log = logging.getLogger(__name__)

VC_TRIALS = "trials_wo_overlap.txt"


def prepare_voxconverse_sv(corpus_dir: PathLike, data_root: PathLike,
                           trials: Optional[PathLike] = None, manifests: Optional[PathLike] = None,
        force: bool = False) -> list[str]:
    """VoxConverse-test-SV (the SEED repo's zip) -> ``voxconverse_sv`` with all its trials.

    The data dir holds every file named in ``trials_wo_overlap.txt`` (paths relative to the
    corpus dir; key = path without ``.wav``, ``/`` -> ``-``). The zip names no speakers, so each
    utterance is its own speaker in ``utt2spk`` (the trials carry the labels).
    """
    corpus_dir = need_dir(corpus_dir, "VoxConverse-SV directory (voxconverse_test_SV)",
                          "download it (seedkit-download-corpus voxconverse_sv) or pass its path")
    data_root = Path(data_root)
    if (dirs := prepared_dirs(data_root, "voxconverse_sv", force)) is not None:
        return dirs
    trials = need_file(Path(trials) if trials else corpus_dir / VC_TRIALS,
                       "VoxConverse-SV trial list", f"it ships as {VC_TRIALS} in the zip")
    raw = read_trials(trials, key_mapping="path")
    paths = c_sorted({p for t in raw for p in (t.enroll, t.test)})
    for n, t in enumerate(raw, start=1):
        for p in (t.enroll, t.test):
            if not (corpus_dir / p).is_file():
                raise SeedkitError(f"trial file {p} does not exist under {corpus_dir}; "
                                   "the corpus is incomplete", trials, n)
    recs = recordings_from_files((voxceleb_path_to_key(p), corpus_dir / p) for p in paths)
    save_manifests(manifests or data_root / "manifests",
                       "voxconverse_sv", "test", recs)
    dd = write_lhotse_data_dir(recs, whole_supervisions(recs, lambda r: r.id),
                               data_root / "voxconverse_sv")
    tr = convert_trials(trials, dd, data_root / "voxconverse_sv" / "trials")
    log.info("voxconverse_sv: %d utterances, %d trials (%d non-target)", len(dd), len(tr),
             sum(not t.target for t in tr))
    mark_prepared(data_root, "voxconverse_sv", ["voxconverse_sv"])
    return ["voxconverse_sv"]


__all__ = ["VC_TRIALS", "prepare_voxconverse_sv"]
