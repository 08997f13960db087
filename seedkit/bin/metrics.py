"""EER and minDCF of a scores file against its trials (voxceleb_trainer / SEED rules).

Prints one line, e.g.
  EER 1.0530% minDCF(p=0.01) 0.1162 minDCF(p=0.05) 0.0712 (37611 trials, 18802 target) scores
and with --json writes EER (percent), minDCF per p-target (c_miss = c_fa = 1), thresholds and
counts. The scores file must hold the trials' pairs in the same order.

With --ci LEVEL a second line gives percentile intervals of EER and minDCF from a bootstrap that
resamples speakers (--utt2spk / --spk2utt of the eval set, or --speaker-from-key), or enrollment
models and test segments (--bootstrap-unit model-segment), never single trials:
  95% CI (1000 resamples of 40 speakers, seed 0): EER [0.8811, 1.2432]% minDCF(p=0.01) [...
With --compare OTHER (a second system's scores of the same trials) the other system's two lines
follow, then the paired line: the interval of A - B (A = scores, B = OTHER) over the same
resamples and the share of resamples in which A is lower (better). --json stores all of it
("ci", "compare").
"""

from __future__ import annotations

import argparse
from typing import Optional

from seedkit.cli import entry, option_names, parse_args
from seedkit.embio import check_not_inputs
from seedkit.errors import SeedkitError
from seedkit.scoring.bootstrap import UNITS
from seedkit.scoring.report import (
    BootstrapOptions,
    ci_lines,
    evaluate_scores_file,
    parse_p_targets,
    summary_line,
)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--p-target", default="0.01,0.05",
                   help="comma-separated target priors for minDCF (default 0.01,0.05)")
    p.add_argument("--json", metavar="OUT", help="write the metrics as JSON (atomically)")
    p.add_argument("--skip-missing", action="store_true",
                   help="accept a scores file that omits trials (from seedkit-score "
                   "--skip-missing); the count is logged")
    g = p.add_argument_group("confidence intervals (bootstrap over speakers)")
    g.add_argument("--ci", metavar="LEVEL",
                   help="percentile interval at LEVEL percent, in (0, 100), e.g. 95")
    g.add_argument("--bootstrap", type=int, metavar="N",
                   help="number of resamples (default 1000; >= 1)")
    g.add_argument("--bootstrap-seed", type=int, metavar="S",
                   help="seed of the resampling (default 0; same seed, same intervals)")
    g.add_argument("--bootstrap-unit", choices=UNITS,
                   help="what is resampled: speaker (default; needs --utt2spk, --spk2utt or "
                   "--speaker-from-key) or model-segment (enrollment keys and test keys, drawn "
                   "apart)")
    g.add_argument("--utt2spk", metavar="FILE", help="the eval set's utt2spk (trial key -> "
                   "speaker)")
    g.add_argument("--spk2utt", metavar="FILE", help="the eval set's spk2utt")
    g.add_argument("--speaker-from-key", action="store_true",
                   help="speaker = the text before the first '-' of each key (Kaldi "
                   "'<spk>-<utt>' keys; VoxCeleb paths id10270/x/00001.wav)")
    g.add_argument("--compare", metavar="OTHER_SCORES",
                   help="paired comparison with a second system's scores of the same trials")
    p.add_argument("scores")
    p.add_argument("trials")
    return p


#: The library's parameters (BootstrapOptions fields, evaluate_scores_file's bootstrap) whose
#: options are spelled otherwise.
_OPTIONS = {"level": "--ci", "bootstrap": "--ci", "resamples": "--bootstrap",
            "seed": "--bootstrap-seed", "unit": "--bootstrap-unit"}

_CI_ONLY = ("bootstrap", "bootstrap_seed", "bootstrap_unit", "utt2spk", "spk2utt",
            "speaker_from_key", "compare")


def bootstrap_options(args) -> Optional[BootstrapOptions]:
    """The --ci options, or None without --ci (then none of them may be given)."""
    if args.ci is None:
        given = [n for n in _CI_ONLY if getattr(args, n) not in (None, False)]
        if given:
            raise SeedkitError(f"--{given[0].replace('_', '-')}: only with --ci LEVEL (e.g. "
                               "--ci 95)")
        return None
    opts = BootstrapOptions(level=args.ci, utt2spk=args.utt2spk, spk2utt=args.spk2utt,
                            speaker_from_key=args.speaker_from_key)
    for name, field in (("bootstrap", "resamples"), ("bootstrap_seed", "seed"),
                        ("bootstrap_unit", "unit")):
        if getattr(args, name) is not None:
            setattr(opts, field, getattr(args, name))
    opts.check()
    return opts


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    check_not_inputs([args.json], [args.scores, args.trials, args.compare, args.utt2spk,
                                   args.spk2utt])
    with option_names(_OPTIONS):
        opts = bootstrap_options(args)
        result = evaluate_scores_file(args.scores, args.trials, parse_p_targets(args.p_target),
                                      json_out=args.json, skip_missing=args.skip_missing,
                                      bootstrap=opts, compare=args.compare)
    print("\n".join(ci_lines(result)) if opts else summary_line(result))
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
