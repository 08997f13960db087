#!/usr/bin/env python3
"""local/prepare_voxsrc23.py [--check-only] TRIALS ROOT [OUT_DIR]

The optional VoxSRC-23 test set (the SEED paper's third; the release ships no list): TRIALS is a
VoxCeleb-form list (``<1|0> <enroll path> <test path>``) whose paths lie under ROOT (the VoxCeleb
copies you have). Every file it names must exist: otherwise one ERROR line saying how many are
missing (and the first ones), and nothing is written. OUT_DIR gets a Kaldi data dir (wav.scp,
utt2spk, spk2utt: utterance ids ``voxsrc23-<path with / as ->``, each its own speaker) and
``trials`` in Kaldi form (``<enroll> <test> target|nontarget``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from seedkit.cli import entry, setup_logging
from seedkit.data.trials import read_trials
from seedkit.errors import SeedkitError
from seedkit.fileio import atomic_text_writer

PREFIX = "voxsrc23-"


def utt_id(path: str) -> str:
    stem = os.path.splitext(path)[0]
    return PREFIX + stem.replace("/", "-")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="prepare_voxsrc23.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check-only", action="store_true", help="only check the files exist")
    p.add_argument("trials")
    p.add_argument("root")
    p.add_argument("out_dir", nargs="?")
    args = p.parse_args(argv)
    setup_logging()
    trials = read_trials(args.trials, key_mapping="path")
    if "/" not in trials[0].enroll and "." not in trials[0].enroll:
        raise SeedkitError("expected the VoxCeleb form '<1|0> <enroll path> <test path>' (paths "
                           "under --voxsrc23-root); this list names Kaldi ids", args.trials, 1)
    root = Path(args.root)
    if not root.is_dir():
        raise SeedkitError("the directory the VoxSRC-23 paths point into does not exist "
                           "(--voxsrc23-root)", root)
    paths = sorted({p for t in trials for p in (t.enroll, t.test)})
    missing = [q for q in paths if not (root / q).is_file()]
    if missing:
        raise SeedkitError(f"{len(missing)} of the {len(paths)} files the list names are missing "
                           f"under {root} (first: {', '.join(missing[:3])}); point "
                           "--voxsrc23-root at the VoxCeleb copy the list's paths are relative "
                           "to", args.trials, 0)
    if args.check_only or not args.out_dir:
        print(f"VoxSRC-23: {len(trials)} trials, {len(paths)} files, all present under {root}")
        return 0
    out = Path(args.out_dir)
    ids = {q: utt_id(q) for q in paths}
    if len(set(ids.values())) != len(ids):
        raise SeedkitError("two paths of the list map to the same utterance id", args.trials)
    rows = sorted((ids[q], str((root / q).resolve())) for q in paths)
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in (("wav.scp", [f"{u} {w}" for u, w in rows]),
                        ("utt2spk", [f"{u} {u}" for u, _ in rows]),
                        ("spk2utt", [f"{u} {u}" for u, _ in rows]),
                        ("trials", [f"{ids[t.enroll]} {ids[t.test]} "
                                    f"{'target' if t.target else 'nontarget'}" for t in trials])):
        with atomic_text_writer(out / name) as f:
            f.write("".join(line + "\n" for line in lines))
    print(f"VoxSRC-23: {len(trials)} trials, {len(paths)} files -> {out}")
    return 0


if __name__ == "__main__":
    entry(main)()
