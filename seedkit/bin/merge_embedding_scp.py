"""Merge per-job embedding scp files into one (C-sorted), checking the keys against a data dir.

Example: seedkit-merge-embedding-scp --data data/eval exp/xv/xvector.scp exp/xv/xvector.{1..4}.scp
Fails (and writes nothing) when a key is duplicated, or when --data is given and the merged keys
are not exactly the data directory's utterances.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from seedkit.cli import entry, parse_args
from seedkit.data.datadir import load_data_dir
from seedkit.extract import merge_scps


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-merge-embedding-scp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None,
                   help="data directory whose utterances the merged scp must hold exactly")
    p.add_argument("output", help="merged scp to write")
    p.add_argument("inputs", nargs="+", help="per-job scp files")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    keys = load_data_dir(args.data).utts if args.data else None
    where = Path(args.data) / "wav.scp" if args.data else None
    n = merge_scps(args.inputs, args.output, keys, where)
    logging.getLogger("seedkit.extract").info("merged %d job outputs into %s: %d embeddings",
                                              len(args.inputs), args.output, n)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
