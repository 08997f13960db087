"""Write tiny corpora in the exact layouts of VoxCeleb1, LibriTTS-R, Libri-Light small, MUSAN,
RIRS_NOISES and VoxConverse-SV under <root> (synthesised audio; for testing the VoxCeleb recipe
without the real corpora). Point seedkit-download-corpus --on-disk at the directories it prints.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.corpus.real_layout import write_all
from seedkit.errors import SeedkitError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-make-real-layout", description=__doc__)
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--scale", type=int, default=1,
                   help="multiply speaker/file counts (default: 1)")
    p.add_argument("root")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    if not 1 <= args.scale <= 1000:
        raise SeedkitError(f"--scale must be in 1..1000, got {args.scale}")
    trees = write_all(args.root, seed=args.seed, scale=args.scale)
    for name, tree in trees.items():
        print(name, tree.root)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
