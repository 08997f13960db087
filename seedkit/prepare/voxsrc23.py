"""The optional VoxSRC-23 test set of the VoxCeleb recipe (the SEED paper's third; the release
ships no list).

The list is in the VoxCeleb form (``<1|0> <enroll path> <test path>``) with paths under a root
(the VoxCeleb copies the user has). Every file it names must exist. The data dir has one utterance
per file, id ``voxsrc23-<path with / as ->``, each its own speaker, and ``trials`` in Kaldi form.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from seedkit.data.trials import Trial, read_trials
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_text_writer

PREFIX = "voxsrc23-"

__all__ = ["VoxSRC23List", "check_voxsrc23", "utt_id", "write_voxsrc23_data_dir"]


def utt_id(path: str) -> str:
    """``voxsrc23-`` + the list path without its extension, ``/`` turned into ``-``."""
    return PREFIX + os.path.splitext(path)[0].replace("/", "-")


@dataclass
class VoxSRC23List:
    """A checked list: its trials, the root and the sorted distinct file paths."""

    trials: list[Trial]
    root: Path
    paths: list[str]


def check_voxsrc23(trials_path: PathLike, root: PathLike) -> VoxSRC23List:
    """Read the list and check that every file it names exists under ``root``; one
    :class:`SeedkitError` says how many are missing (and the first ones)."""
    trials = read_trials(trials_path, key_mapping="path")
    if "/" not in trials[0].enroll and "." not in trials[0].enroll:
        raise SeedkitError("expected the VoxCeleb form '<1|0> <enroll path> <test path>' (paths "
                           "under --voxsrc23-root); this list names Kaldi ids", trials_path, 1)
    root = Path(root)
    if not root.is_dir():
        raise SeedkitError("the directory the VoxSRC-23 paths point into does not exist "
                           "(--voxsrc23-root)", root)
    paths = sorted({p for t in trials for p in (t.enroll, t.test)})
    missing = [q for q in paths if not (root / q).is_file()]
    if missing:
        raise SeedkitError(f"{len(missing)} of the {len(paths)} files the list names are missing "
                           f"under {root} (first: {', '.join(missing[:3])}); point "
                           "--voxsrc23-root at the VoxCeleb copy the list's paths are relative "
                           "to", trials_path, 0)
    return VoxSRC23List(trials, root, paths)


def write_voxsrc23_data_dir(checked: VoxSRC23List, out_dir: PathLike,
                            where: PathLike | None = None) -> Path:
    """``wav.scp``, ``utt2spk``, ``spk2utt`` and ``trials`` of the checked list in ``out_dir``
    (each written under a temporary name and renamed)."""
    ids = {q: utt_id(q) for q in checked.paths}
    if len(set(ids.values())) != len(ids):
        raise SeedkitError("two paths of the list map to the same utterance id", where)
    rows = sorted((ids[q], str((checked.root / q).resolve())) for q in checked.paths)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trials = [f"{ids[t.enroll]} {ids[t.test]} {'target' if t.target else 'nontarget'}"
              for t in checked.trials]
    for name, lines in (("wav.scp", [f"{u} {w}" for u, w in rows]),
                        ("utt2spk", [f"{u} {u}" for u, _ in rows]),
                        ("spk2utt", [f"{u} {u}" for u, _ in rows]),
                        ("trials", trials)):
        with atomic_text_writer(out / name) as f:
            f.write("".join(line + "\n" for line in lines))
    return out
