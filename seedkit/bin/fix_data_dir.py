"""Sort a Kaldi data directory in place and keep only utterances present in every table."""

from __future__ import annotations

import argparse
import sys

from seedkit.cli import entry
from seedkit.data.datadir import fix_data_dir


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-fix-data-dir", description=__doc__)
    p.add_argument("data_dir")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    counts = fix_data_dir(args.data_dir)
    print(f"fix_data_dir: {args.data_dir}: kept {counts['kept']} utterances, dropped "
          f"{counts['dropped']}", file=sys.stderr)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
