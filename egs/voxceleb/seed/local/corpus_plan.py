#!/usr/bin/env python3
"""local/corpus_plan.py [--corpora DIR] [--librittsr-parts 'P ...'] [--eval-only true|false]
    CORPUS=[ON_DISK_DIR]...

Printed by run.sh before stage 0 (stderr): for each corpus it needs, whether it is complete, read
from disk or downloaded (approximate size), and which corpora are skipped
(seedkit.prepare.plan.corpus_plan).
"""

from __future__ import annotations

import argparse
import sys
import time

from seedkit.cli import entry
from seedkit.prepare.plan import corpus_plan


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="corpus_plan.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpora", default="corpora")
    p.add_argument("--librittsr-parts", default="train-clean-100 train-clean-360")
    p.add_argument("--eval-only", choices=("true", "false"), default="false")
    p.add_argument("corpus", nargs="+", help="NAME=ON_DISK_DIR (empty: downloaded)")
    args = p.parse_args(argv)
    sources = [(c.split("=", 1)[0], c.split("=", 1)[1] if "=" in c else "") for c in args.corpus]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for line in corpus_plan(args.corpora, sources, args.librittsr_parts.split(),
                            args.eval_only == "true"):
        print(f"{stamp} run.sh: {line}" if not line.startswith("  ") else line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    entry(main)()
