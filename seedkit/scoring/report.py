"""Metrics of score files (``seedkit-metrics``): JSON result, one-line summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Optional

from seedkit.errors import SeedkitError
from seedkit.fileio import atomic_text_writer
from seedkit.scoring.metrics import summarize
from seedkit.scoring.scorefile import align_scores, read_scores
from seedkit.scoring.trialio import read_trial_list

log = logging.getLogger(__name__)

__all__ = ["evaluate_scores_file", "parse_p_targets", "summary_line"]


def parse_p_targets(text: str) -> list[float]:
    """``"0.01,0.05"`` -> ``[0.01, 0.05]``; each must lie in (0, 1)."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            p = float(part)
        except ValueError:
            raise SeedkitError(f"--p-target {text!r}: {part!r} is not a number") from None
        if not 0.0 < p < 1.0:
            raise SeedkitError(f"--p-target {text!r}: {p} is not in (0, 1)")
        out.append(p)
    return out


def evaluate_scores_file(scores_path: str, trials_path: str, p_targets: Sequence[float],
                         json_out: Optional[str] = None, skip_missing: bool = False) -> dict:
    """Check the scores against the trials, compute EER / minDCF, optionally write JSON."""
    trials = read_trial_list(trials_path, require_labels=True)
    scores = read_scores(scores_path)
    s, lab = align_scores(scores, trials, skip_missing)
    try:
        result = summarize(s, lab, p_targets)
    except SeedkitError as err:  # name the file the user should look at
        raise SeedkitError(err.message, trials_path) from None
    result = {"scores": scores_path, "trials": trials_path,
              "num_unscored": len(trials) - len(scores), **result}
    if json_out:
        with atomic_text_writer(json_out) as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return result


def summary_line(result: dict) -> str:
    dcf = " ".join(f"minDCF(p={k}) {v['value']:.4f}" for k, v in result["min_dcf"].items())
    return (f"EER {result['eer_percent']:.4f}% {dcf} ({result['num_trials']} trials, "
            f"{result['num_target']} target) {result['scores']}")
