#!/usr/bin/env python3
"""local/release_seed.py [--prog NAME] file BACKBONE_CONF | eval-seed CHECKPOINT

Run by local/check_options.sh for the release's SEED models (the file names and evaluation seeds
live in seedkit.release):
  file BACKBONE_CONF     print pretrained/<the release's SEED model for the conf's backbone>
                         (run.sh --seed-checkpoint release); a backbone the release has no SEED
                         model for is one ERROR line naming the conf, exit 1;
  eval-seed CHECKPOINT   print the evaluation seed the release used with CHECKPOINT, by its file
                         name (nothing for any other file).
--prog names the ERROR line's program (default: release_seed.py).
"""

from __future__ import annotations

import argparse
import sys

from seedkit.errors import SeedkitError, run_main
from seedkit.release import release_eval_seed, release_seed_file


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="release_seed.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("file", "eval-seed"))
    p.add_argument("path")
    args = p.parse_args(argv)
    if args.what == "eval-seed":
        seed = release_eval_seed(args.path)
        if seed is not None:
            print(seed)
        return 0
    # imported here: the backbone stack (torch) takes 4-5 s to import, eval-seed 0.2 s without it
    from seedkit.models.config import load_backbone_config

    model = load_backbone_config(args.path).model
    try:
        name = release_seed_file(model)
    except SeedkitError as err:
        raise SeedkitError(f"--seed-checkpoint release: {err.message}", args.path) from None
    print("pretrained/" + name)
    return 0


if __name__ == "__main__":
    prog = "release_seed.py"
    argv = sys.argv[1:]
    if argv[:1] == ["--prog"] and len(argv) > 1:
        prog, argv = argv[1], argv[2:]
    sys.exit(run_main(main, prog, argv))
