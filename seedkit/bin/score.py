"""Score a trial list: cosine, SEED multi-crop, AS-norm / z / t / s-norm, or PLDA.

Writes ``<enroll> <test> <score>`` per line in trial order (atomically). Examples:
  seedkit-score trials scp:xvector.scp scp:xvector.scp scores
  seedkit-score --method cosine --mean-from scp:train/xvector.scp trials scp:e.scp scp:t.scp scores
  seedkit-score --method seed trials scp:crops.scp scp:crops.scp scores
  seedkit-score --method asnorm --cohort scp:spk_xvector.scp --top-n 300 trials ... scores
  seedkit-score --method plda --plda exp/plda trials scp:e.scp scp:t.scp scores
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, option_names, parse_args
from seedkit.embio import check_not_inputs
from seedkit.scoring.score import METHODS, score_trials_file


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="cosine", choices=METHODS,
                   help="scoring back end (default cosine). seed: -mean Euclidean distance of "
                   "unit crop rows (multi-crop matrices); seed-cosine: mean crop-pair cosine; "
                   "asnorm/znorm/tnorm/snorm: cosine normalised against --cohort; plda: LLR")
    p.add_argument("--mean-from", metavar="RSPEC",
                   help="subtract the mean of these embeddings before cosine-type scoring")
    p.add_argument("--cohort", metavar="RSPEC", help="cohort embeddings for score normalisation")
    p.add_argument("--top-n", type=int, default=None,
                   help="adaptive cohort size: keep the N best cohort scores per side "
                   "(default: 300 for asnorm, the whole cohort for z/t/s-norm)")
    p.add_argument("--plda", metavar="MODEL", help="model from seedkit-train-plda")
    p.add_argument("--skip-missing", action="store_true",
                   help="skip trials whose embeddings are absent (count logged) instead of "
                   "failing; the scores file then omits them")
    p.add_argument("--chunk", type=int, default=1 << 15, help="trials per scoring chunk")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("trials", help="Kaldi '<enroll> <test> target|nontarget' or VoxCeleb form")
    p.add_argument("enroll_rspecifier")
    p.add_argument("test_rspecifier")
    p.add_argument("scores_out")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    check_not_inputs([args.scores_out], [args.trials, args.enroll_rspecifier,
                                         args.test_rspecifier, args.plda, args.cohort,
                                         args.mean_from])
    with option_names({"plda_path": "--plda"}):
        score_trials_file(args.trials, args.enroll_rspecifier, args.test_rspecifier,
                          args.scores_out, method=args.method, mean_from=args.mean_from,
                          cohort=args.cohort, top_n=args.top_n, plda_path=args.plda,
                          skip_missing=args.skip_missing, chunk=max(1, args.chunk))
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
