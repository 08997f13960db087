"""Check a Kaldi data directory (keys unique and C-sorted, key sets consistent, files exist)."""

from __future__ import annotations

import argparse
import sys

from seedkit.cli import entry, option_names
from seedkit.data.datadir import validate_data_dir


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-validate-data-dir", description=__doc__)
    p.add_argument("--no-check-files", action="store_true",
                   help="do not check that audio files exist")
    p.add_argument("--no-spk-sort", action="store_true",
                   help="do not require utterance ids to sort in speaker order")
    p.add_argument("data_dir")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    with option_names({"check_spk_sort": "--no-spk-sort"}):
        dd = validate_data_dir(args.data_dir, check_files=not args.no_check_files,
                               check_spk_sort=not args.no_spk_sort)
    print(f"{args.data_dir}: OK ({len(dd)} utterances, {len(dd.spk2utt)} speakers)",
          file=sys.stderr)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
