"""VoxCeleb1 -> ``voxceleb1_test`` (+ ``trials``: VoxCeleb1-O cleaned in Kaldi form, keys checked
against the data dir) and ``voxceleb1_dev``; keys ``id10270-<yt>-00001``.

lhotse 1.33 behaviours worked around (no public option; :func:`~seedkit.prepare.common.patched`
for the length of one call):

- ``prepare_voxceleb`` reads headers in a process pool even for one job; seedkit uses threads then
  (``ProcessPoolExecutor``).
- ``prepare_voxceleb`` downloads ``voxceleb1_test_v2.txt`` (the uncleaned O list) into the current
  directory and fails offline; seedkit skips that step (``_prepare_voxceleb_trials``) and converts
  the cleaned list itself.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import lhotse.recipes.voxceleb as vox

from seedkit.errors import PathLike, SeedkitError
from seedkit.prepare.common import (
    convert_trials,
    mark_prepared,
    need_dir,
    need_file,
    patched,
    prepared_dirs,
    run_lhotse,
    save_manifests,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir

log = logging.getLogger(__name__)


def prepare_voxceleb1(corpus_dir: PathLike, data_root: PathLike, trials: Optional[PathLike] = None,
                      num_jobs: int = 1, manifests: Optional[PathLike] = None,
        force: bool = False) -> list[str]:
    """VoxCeleb1 -> ``voxceleb1_test`` (+ ``trials``) and ``voxceleb1_dev``.

    ``trials`` defaults to ``<corpus_dir>/veri_test2.txt`` (VoxCeleb1-O cleaned, 37,611 trials);
    any list in the VoxCeleb or Kaldi form works.
    """
    corpus_dir = need_dir(corpus_dir, "VoxCeleb1 directory",
                          "download it (seedkit-download-corpus voxceleb1) or pass its path")
    data_root = Path(data_root)
    if (dirs := prepared_dirs(data_root, "voxceleb1", force)) is not None:
        return dirs
    need_dir(corpus_dir / "wav", "VoxCeleb1 wav/ directory",
             "unzip vox1_dev_wav.zip and vox1_test_wav.zip into the corpus directory")
    need_file(corpus_dir / "vox1_meta.csv", "vox1_meta.csv",
              "download https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/vox1_meta.csv")
    trials = Path(trials) if trials else corpus_dir / "veri_test2.txt"
    need_file(trials, "VoxCeleb1-O trial list", "download veri_test2.txt (seedkit-download-corpus "
              "voxceleb1) or pass --trials")
    # one job: threads instead of a process pool (no fork of a big process for header reads)
    pool = ThreadPoolExecutor if num_jobs <= 1 else vox.ProcessPoolExecutor
    with patched(vox, "_prepare_voxceleb_trials", lambda manifests: {}), \
            patched(vox, "ProcessPoolExecutor", pool):
        m = run_lhotse("prepare_voxceleb", corpus_dir, "*.wav", vox.prepare_voxceleb,
                       voxceleb1_root=corpus_dir, output_dir=None, num_jobs=num_jobs)
    written = []
    for split, name in (("test", "voxceleb1_test"), ("train", "voxceleb1_dev")):
        if split not in m or len(m[split]["recordings"]) == 0:
            log.warning("VoxCeleb1 has no %s speakers in vox1_meta.csv / wav/", split)
            continue
        save_manifests(manifests or data_root / "manifests",
                       "voxceleb1", split, m[split]["recordings"],
                       m[split]["supervisions"])
        dd = write_lhotse_data_dir(m[split]["recordings"], m[split]["supervisions"],
                                   data_root / name)
        written.append(name)
        if split == "test":
            tr = convert_trials(trials, dd, data_root / name / "trials")
            log.info("%s: %d utterances, %d trials (%d target)", name, len(dd), len(tr),
                     sum(t.target for t in tr))
    if "voxceleb1_test" not in written:
        raise SeedkitError("no VoxCeleb1 test speakers found (Set column 'test' in "
                           "vox1_meta.csv with files under wav/)", corpus_dir / "vox1_meta.csv")
    mark_prepared(data_root, "voxceleb1", written)
    return written


__all__ = ["prepare_voxceleb1"]
