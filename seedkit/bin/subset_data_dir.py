"""Copy the utterances (or speakers) named in a list from one Kaldi data directory to another."""

from __future__ import annotations

import argparse
import sys

from seedkit.cli import entry
from seedkit.data.datadir import (
    check_complete,
    load_data_dir,
    subset_by_speakers,
    subset_data_dir,
    write_data_dir,
)
from seedkit.errors import SeedkitError
from seedkit.fileio import iter_table


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-subset-data-dir", description=__doc__)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--utt-list", help="file whose first field per line is an utterance id")
    g.add_argument("--spk-list", help="file whose first field per line is a speaker id")
    p.add_argument("src_dir")
    p.add_argument("dest_dir")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    list_file = args.utt_list or args.spk_list
    wanted = [f[0] for _, f in iter_table(list_file, min_fields=1, what="id list")]
    src = load_data_dir(args.src_dir)
    check_complete(src, args.src_dir)
    if args.utt_list:
        out = subset_data_dir(src, wanted)
        missing = len(set(wanted) - set(src.utt2spk))
    else:
        out = subset_by_speakers(src, wanted)
        missing = len(set(wanted) - set(src.spk2utt))
    if not len(out):
        raise SeedkitError(f"none of the {len(set(wanted))} ids is in {args.src_dir}; is this "
                           "the right list (--utt-list vs --spk-list)?", list_file)
    write_data_dir(out, args.dest_dir)
    print(f"subset_data_dir: {args.dest_dir}: {len(out)} utterances of {len(src)}"
          + (f" ({missing} listed ids not in {args.src_dir})" if missing else ""),
          file=sys.stderr)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
