"""The union of Kaldi data directories (Kaldi's ``utils/combine_data.sh``), keys in C-locale order.

    seedkit-combine-data-dir [--allow-repeated-keys true|false] DEST SRC [SRC ...]

Default: a key in two sources is an error; ``utt2dur`` is kept when every source has it; when only
some sources have ``segments``, each utterance of the others becomes one segment over its whole
recording (its ``utt2dur`` needed). ``--allow-repeated-keys true`` (``wav.scp``, ``utt2spk``,
``spk2utt`` only): a key may repeat when it names the same speaker and byte-identical audio; the
first source's entry is kept. Nothing is written at DEST when it fails.
"""

from __future__ import annotations

import argparse
import logging

from seedkit.cli import entry, parse_args, true_false
from seedkit.data.combine import combine_data_dirs

log = logging.getLogger("seedkit.combine_data_dir")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-combine-data-dir", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--allow-repeated-keys", type=true_false, default=False,
                   metavar="true|false", help="a key may repeat with the same speaker and "
                   "byte-identical audio (default: false)")
    p.add_argument("dest_dir")
    p.add_argument("src_dirs", nargs="+", metavar="src_dir")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    out = combine_data_dirs(args.src_dirs, args.dest_dir, args.allow_repeated_keys)
    log.info("%s: %d utterances from %d data dirs", args.dest_dir, len(out.utt2spk),
             len(args.src_dirs))
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
