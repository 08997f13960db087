"""Metrics of score files (``seedkit-metrics``): JSON result, one-line summary; with a
:class:`BootstrapOptions`, confidence intervals and a paired comparison with a second scores file
(:mod:`seedkit.scoring.bootstrap`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from seedkit.data.datadir import read_spk2utt, read_utt2x
from seedkit.data.trials import read_trial_list
from seedkit.errors import OptionError, Param, SeedkitError
from seedkit.fileio import atomic_text_writer
from seedkit.scoring.bootstrap import (
    UNITS,
    Clusters,
    bootstrap_ci,
    compare_systems,
    model_segment_clusters,
    parse_ci_level,
    speaker_clusters,
)
from seedkit.scoring.metrics import summarize
from seedkit.scoring.scorefile import ScoreList, align_scores, read_scores

log = logging.getLogger(__name__)

__all__ = ["BootstrapOptions", "ci_lines", "compare_lines", "evaluate_scores_file",
           "parse_p_targets", "summary_line"]


@dataclass
class BootstrapOptions:
    """What ``seedkit-metrics --ci`` resamples (see :mod:`seedkit.scoring.bootstrap`).

    Speaker information for ``unit="speaker"``: ``utt2spk`` or ``spk2utt`` (files), or
    ``speaker_from_key`` (the text before the first ``-`` of each key)."""

    level: float = 95.0
    resamples: int = 1000
    seed: int = 0
    unit: str = "speaker"
    utt2spk: Optional[str] = None
    spk2utt: Optional[str] = None
    speaker_from_key: bool = False

    def check(self) -> None:
        """Raise for a level outside (0, 100), fewer than 1 resample, a negative seed, an unknown
        unit, or a speaker bootstrap without (or with two kinds of) speaker information."""
        self.level = parse_ci_level(self.level)
        if self.resamples < 1:
            raise OptionError(Param("resamples", self.resamples), ": the number of resamples "
                              "must be >= 1 (e.g. 1000)")
        if self.seed < 0:
            raise OptionError(Param("seed", self.seed), ": must be >= 0")
        if self.unit not in UNITS:
            raise OptionError(Param("unit"), f" {self.unit!r}: use one of {', '.join(UNITS)}")
        given = [Param(n) for n, v in (("utt2spk", self.utt2spk), ("spk2utt", self.spk2utt),
                                       ("speaker_from_key", self.speaker_from_key)) if v]
        if self.unit == "speaker" and not given:
            raise OptionError(Param("level"), " resamples speakers and needs each trial's "
                              "speakers: give ", Param("utt2spk"), " (the eval set's utt2spk), ",
                              Param("spk2utt"), ", or ", Param("speaker_from_key"), " (keys "
                              "start with '<speaker>-'); or ", Param("unit", "model-segment"))
        if len(given) > 1:
            raise OptionError("give one source of speakers, not ",
                              *[p for g in given for p in (" and ", g)][1:])
        if self.unit != "speaker" and given:
            raise OptionError(given[0], ": only with ", Param("unit", "speaker"))

    def clusters(self, enroll: Sequence[str], test: Sequence[str],
                 trials_path: Optional[str] = None) -> Clusters:
        """The trials' clusters; errors name the speaker file (or the trials file)."""
        if self.unit == "model-segment":
            return model_segment_clusters(enroll, test)
        if self.utt2spk:
            return speaker_clusters(enroll, test, read_utt2x(self.utt2spk), self.utt2spk)
        if self.spk2utt:
            utt2spk = {u: s for s, utts in read_spk2utt(self.spk2utt).items() for u in utts}
            return speaker_clusters(enroll, test, utt2spk, self.spk2utt)
        return speaker_clusters(enroll, test, None, trials_path)


def parse_p_targets(text: str) -> list[float]:
    """``"0.01,0.05"`` -> ``[0.01, 0.05]``; each must lie in (0, 1)."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            p = float(part)
        except ValueError:
            raise OptionError(Param("p_target"), f" {text!r}: {part!r} is not a number") from None
        if not 0.0 < p < 1.0:
            raise OptionError(Param("p_target"), f" {text!r}: {p} is not in (0, 1)")
        out.append(p)
    return out


def _summarize(s, lab, p_targets: Sequence[float], trials_path: str) -> dict:
    try:
        return summarize(s, lab, p_targets)
    except SeedkitError as err:  # name the file the user should look at
        raise err.at(trials_path) from None


def _same_trials(a: ScoreList, b: ScoreList) -> None:
    if a.enroll != b.enroll or a.test != b.test:
        i = next((i for i in range(min(len(a), len(b)))
                  if a.enroll[i] != b.enroll[i] or a.test[i] != b.test[i]), min(len(a), len(b)))
        raise OptionError(Param("compare"), f": this file scores other trials than {a.path} "
                          f"(first difference at its line {i + 1}); compare systems scored on "
                          "the same trials", path=b.path, line=i + 1)


def evaluate_scores_file(scores_path: str, trials_path: str, p_targets: Sequence[float],
                         json_out: Optional[str] = None, skip_missing: bool = False,
                         bootstrap: Optional[BootstrapOptions] = None,
                         compare: Optional[str] = None) -> dict:
    """Check the scores against the trials, compute EER / minDCF, optionally write JSON.

    With ``bootstrap``: ``result["ci"]`` (:func:`seedkit.scoring.bootstrap.bootstrap_ci`); with
    ``compare`` (a second scores file of the same trials, needs ``bootstrap``) also
    ``result["compare"]``: ``{"other": path, "other_metrics": summarize(...), **paired}``
    (:func:`seedkit.scoring.bootstrap.compare_systems`, A = this file, B = the other)."""
    if compare is not None and bootstrap is None:
        raise OptionError(Param("compare"), " needs ", Param("bootstrap"), " (the paired "
                          "comparison is a bootstrap)")
    if bootstrap is not None:
        bootstrap.check()
    trials = read_trial_list(trials_path, require_labels=True)
    scores = read_scores(scores_path)
    s, lab = align_scores(scores, trials, skip_missing)
    result = _summarize(s, lab, p_targets, trials_path)
    result = {"scores": scores_path, "trials": trials_path,
              "num_unscored": len(trials) - len(scores), **result}
    if bootstrap is not None:
        clusters = bootstrap.clusters(scores.enroll, scores.test, trials_path)
        opts = {"p_targets": p_targets, "level": bootstrap.level, "n": bootstrap.resamples,
                "seed": bootstrap.seed}
        if compare is None:
            result["ci"] = bootstrap_ci(s, lab, clusters, **opts)
        else:
            other = read_scores(compare)
            s_b, _ = align_scores(other, trials, skip_missing)
            _same_trials(scores, other)
            other_metrics = _summarize(s_b, lab, p_targets, trials_path)
            paired = compare_systems(s, s_b, lab, clusters, point_a=result,
                                     point_b=other_metrics, **opts)
            result["ci"] = paired.pop("a")
            other_metrics["ci"] = paired.pop("b")
            result["compare"] = {"other": compare, "other_metrics": other_metrics, **paired}
    if json_out:
        with atomic_text_writer(json_out) as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return result


def summary_line(result: dict) -> str:
    dcf = " ".join(f"minDCF(p={k}) {v['value']:.4f}" for k, v in result["min_dcf"].items())
    return (f"EER {result['eer_percent']:.4f}% {dcf} ({result['num_trials']} trials, "
            f"{result['num_target']} target) {result['scores']}")


def _ci_text(ci: dict) -> str:
    lo, hi = ci["eer_percent"]
    dcf = " ".join(f"minDCF(p={k}) [{v[0]:.4f}, {v[1]:.4f}]" for k, v in ci["min_dcf"].items())
    bad = f", {ci['invalid_resamples']} without both classes" if ci["invalid_resamples"] else ""
    return (f"{ci['level']:g}% CI ({ci['resamples']} resamples of {ci['units']}, seed "
            f"{ci['seed']}{bad}): EER [{lo:.4f}, {hi:.4f}]% {dcf}")


def ci_lines(result: dict) -> list[str]:
    """The summary line, then the interval line (and, with a comparison, the other system's two
    lines and the paired line)::

        EER 5.7333% minDCF(p=0.01) 0.4123 ... scores
        95% CI (1000 resamples of 40 speakers, seed 0): EER [4.1000, 7.6000]% minDCF(p=0.01) [...
    """
    lines = [summary_line(result)]
    if "ci" in result:
        lines.append(_ci_text(result["ci"]))
    if "compare" in result:
        other = result["compare"]["other_metrics"]
        lines += [summary_line({**other, "scores": result["compare"]["other"]}),
                  _ci_text(other["ci"]), compare_lines(result)]
    return lines


def _paired_text(name: str, unit: str, d: dict) -> str:
    lo, hi = d["interval"]
    fmt = ".4f"
    return (f"{name} A-B {d['difference']:+{fmt}}{unit} [{lo:+{fmt}}, {hi:+{fmt}}], A better in "
            f"{100 * d['a_better']:.1f}% of resamples (ties {100 * d['ties']:.1f}%)")


def compare_lines(result: dict) -> str:
    """``paired (A = scores, B = other): EER A-B -1.2000 points [...], A better in 99.1% ...``"""
    c = result["compare"]
    parts = [_paired_text("EER", " points", c["eer_percent"])]
    parts += [_paired_text(f"minDCF(p={k})", "", v) for k, v in c["min_dcf"].items()]
    return (f"paired {c['level']:g}% (A = {result['scores']}, B = {c['other']}): "
            + "; ".join(parts))
