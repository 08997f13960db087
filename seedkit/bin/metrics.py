"""EER and minDCF of a scores file against its trials (voxceleb_trainer / SEED rules).

Prints one line, e.g.
  EER 1.0530% minDCF(p=0.01) 0.1162 minDCF(p=0.05) 0.0712 (37611 trials, 18802 target) scores
and with --json writes EER (percent), minDCF per p-target (c_miss = c_fa = 1), thresholds and
counts. The scores file must hold the trials' pairs in the same order.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.embio import check_not_inputs
from seedkit.scoring.report import evaluate_scores_file, parse_p_targets, summary_line


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--p-target", default="0.01,0.05",
                   help="comma-separated target priors for minDCF (default 0.01,0.05)")
    p.add_argument("--json", metavar="OUT", help="write the metrics as JSON (atomically)")
    p.add_argument("--skip-missing", action="store_true",
                   help="accept a scores file that omits trials (from seedkit-score "
                   "--skip-missing); the count is logged")
    p.add_argument("scores")
    p.add_argument("trials")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    check_not_inputs([args.json], [args.scores, args.trials])
    result = evaluate_scores_file(args.scores, args.trials, parse_p_targets(args.p_target),
                                  json_out=args.json, skip_missing=args.skip_missing)
    print(summary_line(result))
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
