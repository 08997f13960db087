"""Gather seedkit-metrics JSON files into a Markdown table (system x test set: EER, minDCF at each
p-target) with relative change against a baseline system.

  seedkit-results-table --baseline baseline baseline=exp/scores/baseline seed=exp/scores/seed \\
      > RESULTS.md
Arguments: SYSTEM=DIR (reads DIR/<testset>/metrics.json and DIR/<testset>.json) or
SYSTEM:TESTSET=FILE.json; systems appear in argument order.
"""

from __future__ import annotations

import argparse
import sys

from seedkit.cli import entry
from seedkit.fileio import atomic_text_writer
from seedkit.scoring.report import parse_p_targets
from seedkit.scoring.results import collect, markdown_table


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-results-table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", required=True, help="system name the others are compared with")
    p.add_argument("--p-target", default="0.01,0.05", help="minDCF columns (default 0.01,0.05)")
    p.add_argument("--title", help="a '# title' line above the table")
    p.add_argument("--out", help="write here (atomically) instead of stdout")
    p.add_argument("systems", nargs="+", metavar="SYSTEM=DIR|SYSTEM:TESTSET=FILE")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    text = markdown_table(collect(args.systems), args.baseline, parse_p_targets(args.p_target))
    if args.title:
        text = f"# {args.title}\n\n{text}"
    if args.out:
        with atomic_text_writer(args.out) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
