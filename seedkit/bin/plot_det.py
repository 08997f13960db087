"""Overlay DET curves of several score files (normal-deviate axes, EER points marked); writes
<out>.png, <out>.pdf and the curve points as text, <out>.det.tsv (system, threshold, p_miss,
p_fa per point; docs/scoring.md).

  seedkit-plot-det --labels baseline,SEED --trials data/eval_mix/trials \\
      exp/scores/baseline/eval_mix/scores exp/scores/seed/eval_mix/scores exp/det_eval_mix.png

Give one --trials for all score files, or one per score file (same order).
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.data.trials import read_trial_list
from seedkit.errors import SeedkitError
from seedkit.scoring.det import plot_det
from seedkit.scoring.scorefile import align_scores, read_scores


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-plot-det", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", action="append", required=True,
                   help="trials file (once for all, or once per score file)")
    p.add_argument("--labels", help="comma-separated legend names (default: score file paths)")
    p.add_argument("--title", help="plot title")
    p.add_argument("--skip-missing", action="store_true",
                   help="accept score files that omit trials (seedkit-score --skip-missing)")
    p.add_argument("scores", nargs="+", help="score files")
    p.add_argument("out_png", help="output .png (the .pdf and .det.tsv are written beside it)")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    n = len(args.scores)
    if len(args.trials) not in (1, n):
        raise SeedkitError(f"{len(args.trials)} --trials for {n} score files; give one for all "
                           "or one per score file")
    labels = args.labels.split(",") if args.labels else list(args.scores)
    if len(labels) != n:
        raise SeedkitError(f"--labels has {len(labels)} names for {n} score files")
    trials = [args.trials[0]] * n if len(args.trials) == 1 else args.trials
    cache: dict = {}
    curves = []
    for label, sc, tr in zip(labels, args.scores, trials):
        if tr not in cache:
            cache[tr] = read_trial_list(tr, require_labels=True)
        s, lab = align_scores(read_scores(sc), cache[tr], args.skip_missing)
        curves.append((label, s, lab))
    plot_det(curves, args.out_png, args.title)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
