"""Split a Kaldi data directory into <data>/split<N>[utt]/{1..N} (by speaker, or by utterance)."""

from __future__ import annotations

import argparse

from seedkit.cli import entry, option_names
from seedkit.data.datadir import validate_data_dir
from seedkit.data.split import write_split
from seedkit.errors import SeedkitError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-split-data-dir", description=__doc__)
    p.add_argument("--per-utt", action="store_true",
                   help="split by utterance into split<N>utt/ (a speaker may span parts)")
    p.add_argument("data_dir")
    p.add_argument("num_parts", type=int)
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    if args.num_parts < 1:
        raise SeedkitError(f"number of parts must be >= 1, got {args.num_parts}")
    # As Kaldi's split_data.sh: sorted tables, and (by speaker) utterance order = speaker order.
    # The recipes' --nj is the number of parts; --per-utt drops the speaker-order check.
    with option_names({"num_parts": "--nj", "by=utt": "--per-utt",
                       "check_spk_sort=False": "--per-utt"}):
        dd = validate_data_dir(args.data_dir, check_files=False, check_spk_sort=not args.per_utt)
        write_split(dd, args.data_dir, args.num_parts, by="utt" if args.per_utt else "speaker")
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
