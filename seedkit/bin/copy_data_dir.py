"""Copy a Kaldi data directory, optionally adding prefixes/suffixes to utterance/speaker ids."""

from __future__ import annotations

import argparse
import sys

from seedkit.cli import entry
from seedkit.data.datadir import check_complete, load_data_dir, rename_data_dir, write_data_dir
from seedkit.errors import SeedkitError


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-copy-data-dir", description=__doc__)
    p.add_argument("--utt-prefix", default="")
    p.add_argument("--utt-suffix", default="")
    p.add_argument("--spk-prefix", default="")
    p.add_argument("--spk-suffix", default="")
    p.add_argument("src_dir")
    p.add_argument("dest_dir")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    for opt in ("utt_prefix", "utt_suffix", "spk_prefix", "spk_suffix"):
        value = getattr(args, opt)
        if any(c.isspace() for c in value) or "\0" in value:
            raise SeedkitError(f"--{opt.replace('_', '-')} {value!r} contains whitespace; Kaldi "
                               "ids are single words (it would corrupt utt2spk): use e.g. '-' "
                               "or '_' instead")
    src = load_data_dir(args.src_dir)
    check_complete(src, args.src_dir)
    out = rename_data_dir(src, lambda u: f"{args.utt_prefix}{u}{args.utt_suffix}",
                          lambda s: f"{args.spk_prefix}{s}{args.spk_suffix}")
    write_data_dir(out, args.dest_dir)
    print(f"copy_data_dir: copied {len(out)} utterances from {args.src_dir} to {args.dest_dir}",
          file=sys.stderr)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
