#!/usr/bin/env python3
"""local/prepare_voxsrc23.py [--check-only] TRIALS ROOT [OUT_DIR]

The optional VoxSRC-23 test set (seedkit.prepare.voxsrc23): TRIALS is a VoxCeleb-form list
(``<1|0> <enroll path> <test path>``) whose paths lie under ROOT. Every file it names must exist:
otherwise one ERROR line saying how many are missing (and the first ones), and nothing is written.
OUT_DIR gets a Kaldi data dir (wav.scp, utt2spk, spk2utt) and ``trials`` in Kaldi form.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.prepare.voxsrc23 import check_voxsrc23, write_voxsrc23_data_dir


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="prepare_voxsrc23.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check-only", action="store_true", help="only check the files exist")
    p.add_argument("trials")
    p.add_argument("root")
    p.add_argument("out_dir", nargs="?")
    args = parse_args(p, argv)
    checked = check_voxsrc23(args.trials, args.root)
    n_trials, n_files = len(checked.trials), len(checked.paths)
    if args.check_only or not args.out_dir:
        print(f"VoxSRC-23: {n_trials} trials, {n_files} files, all present under {args.root}")
        return 0
    out = write_voxsrc23_data_dir(checked, args.out_dir, args.trials)
    print(f"VoxSRC-23: {n_trials} trials, {n_files} files -> {out}")
    return 0


if __name__ == "__main__":
    entry(main)()
