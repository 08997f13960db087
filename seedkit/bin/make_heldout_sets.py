"""Held-out eval sets of a mini corpus: speakers whose espeak-ng language and voice variant no
training speaker uses, corrupted only with the corpus's held-out noises and rooms: heldout_clean,
heldout_mix (VC-Mix-style), heldout_rev0 (reverb + noise at 0 dB), heldout_snr5. Each set is a
16 kHz Kaldi data dir with trials (docs/heldout_study.md). The corpus is not changed; the default
mini recipe does not run this. Same corpus, seed and sizes give the same bytes."""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.corpus.heldout import make_heldout_sets


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-make-heldout-sets", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--num-speakers", type=int, default=30, help="held-out speakers")
    p.add_argument("--utts-per-speaker", type=int, default=12, help="utterances per speaker")
    p.add_argument("--trials-per-set", type=int, default=3000, help="trials per set, half target")
    p.add_argument("--seed", type=int, default=0, help="seed of the voices and the sets")
    p.add_argument("--jobs", type=int, default=2, help="processes")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("corpus", help="a mini corpus (seedkit-make-mini-corpus output)")
    p.add_argument("out_dir", help="output directory")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    make_heldout_sets(args.corpus, args.out_dir, num_speakers=args.num_speakers,
                      utts_per_speaker=args.utts_per_speaker, trials_per_set=args.trials_per_set,
                      seed=args.seed, jobs=args.jobs, force=args.force)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
