"""Mini corpus (seedkit-make-mini-corpus output) -> lhotse manifests -> Kaldi data dirs.

Writes under <data-root>: train, every eval set (eval_clean, eval_mix, eval_snr*; with trials and
utt2env), musan + musan_{music,noise,speech}, rirs, and musan_eval*/rirs_eval from the held-out
environments. MUSAN and RIRS_NOISES go through lhotse's own prepare_musan/prepare_rir_noise.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.prepare.mini import prepare_mini_corpus


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-prepare-mini-corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifests", default=None,
                   help="where to save the lhotse manifests (default: <data-root>/manifests)")
    p.add_argument("corpus_dir")
    p.add_argument("data_root")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    written = prepare_mini_corpus(args.corpus_dir, args.data_root, manifests=args.manifests)
    print(" ".join(written))
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
