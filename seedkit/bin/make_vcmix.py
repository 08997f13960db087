"""Build VC-Mix (docs/method.md §9): every non-target trial of VoxConverse-SV followed by every
target trial of VoxCeleb1-O, with a data dir of exactly the utterances they use.

<vox1-test-data> and <voxconverse-data> are the data dirs seedkit-prepare-corpus writes
(voxceleb1_test and voxconverse_sv, each with its trials); <out-data> gets wav.scp, utt2spk,
spk2utt, utt2dur and trials (Kaldi form).
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.prepare.vcmix import make_vcmix


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-make-vcmix", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("vox1_test_data")
    p.add_argument("voxconverse_data")
    p.add_argument("out_data")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    make_vcmix(args.vox1_test_data, args.voxconverse_data, args.out_data)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
