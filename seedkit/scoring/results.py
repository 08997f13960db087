"""Gather ``seedkit-metrics --json`` files into a Markdown results table with relative change
against a named baseline system.

Inputs (``seedkit-results-table`` arguments), in the order they should appear:

* ``SYSTEM=DIR`` - every ``DIR/<testset>/metrics.json`` and every ``DIR/<testset>.json`` (test
  sets in natural order: numbers by value, so eval_snr5 before eval_snr10), the layout the
  recipes write: ``exp/scores/<system>/<testset>/metrics.json``;
* ``SYSTEM:TESTSET=FILE`` - one metrics JSON file.

Table: one row per (test set, system), test sets in the order they first appear in the
arguments, with EER (%) and minDCF at each p-target, each followed by its relative change
``(value - baseline) / baseline`` in percent (negative = better). The baseline row shows ``-``;
``n/a`` where a value or the baseline is missing (or the baseline value is 0).

Metrics files with a ``ci`` block (``seedkit-metrics --ci``) show their intervals after the
values, ``5.733 [4.933, 6.600]`` (EER) and ``0.6733 [0.5920, 0.7550]`` (minDCF), and a note under
the table names the level, resamples and unit. A ``compare`` block against the baseline's scores
(``seedkit-metrics --compare BASELINE_SCORES``) adds, in the EER ``rel.`` cell, the interval of
the EER difference to the baseline in points, ``-33.0% [-5.20, -2.07]``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seedkit.errors import OptionError, Param, SeedkitError
from seedkit.fileio import read_text

__all__ = ["Entry", "collect", "markdown_table", "natural_key", "parse_spec"]


@dataclass
class Entry:
    system: str
    testset: str
    path: Path
    metrics: dict


def _load(path: Path) -> dict:
    try:
        data = json.loads(read_text(path, "metrics JSON file", gzip_ok=True,
                                    hint="run seedkit-metrics --json"))
    except json.JSONDecodeError as err:
        raise SeedkitError(f"not valid JSON ({err.msg}); re-run seedkit-metrics --json", path,
                           err.lineno) from None
    if not isinstance(data, dict) or "eer_percent" not in data or "min_dcf" not in data:
        raise SeedkitError("not a seedkit-metrics JSON file (no eer_percent / min_dcf)", path)
    bad = None
    if not _is_number(data["eer_percent"]):
        bad = f"eer_percent is {data['eer_percent']!r}, not a number"
    elif not isinstance(data["min_dcf"], dict):
        bad = "min_dcf is not a mapping of prior -> {p_target, value}"
    else:
        for key, v in data["min_dcf"].items():
            if not (isinstance(v, dict) and _is_number(v.get("value"))
                    and _is_number(v.get("p_target", _as_float(key)))):
                bad = f"min_dcf[{key!r}] is {v!r}, not {{p_target: P, value: V}}"
                break
    if not bad and "ci" in data:
        bad = _check_ci(data["ci"])
    if not bad and "compare" in data:
        c = data["compare"]
        if not (isinstance(c, dict) and isinstance(c.get("other"), str)
                and isinstance(c.get("eer_percent"), dict)
                and _is_pair(c["eer_percent"].get("interval"))):
            bad = "compare is not {other, eer_percent: {interval: [lo, hi]}, ...}"
    if bad:
        raise SeedkitError(f"damaged seedkit-metrics JSON: {bad}; re-run seedkit-metrics --json",
                           path)
    return data


def _is_pair(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_is_number(x) for x in v)


def _check_ci(ci) -> Optional[str]:
    if not (isinstance(ci, dict) and _is_number(ci.get("level")) and _is_pair(
            ci.get("eer_percent")) and isinstance(ci.get("min_dcf"), dict)
            and all(_is_pair(v) for v in ci["min_dcf"].values())):
        return "ci is not {level, eer_percent: [lo, hi], min_dcf: {prior: [lo, hi]}}"
    return None


def _as_float(text) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def natural_key(name: str) -> tuple:
    """Sort key: digit runs compare by value ("snr5" < "snr10"), the rest as text; ties (e.g.
    "snr05" and "snr5") fall back to the plain string."""
    parts = re.split(r"(\d+)", name)  # text at even indices, digit runs at odd ones
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def parse_spec(spec: str) -> list[Entry]:
    """``SYSTEM=DIR`` or ``SYSTEM:TESTSET=FILE`` -> entries."""
    name, sep, target = spec.partition("=")
    if not sep or not name or not target:
        raise SeedkitError(f"bad argument {spec!r}; use SYSTEM=DIR or SYSTEM:TESTSET=FILE.json")
    system, colon, testset = name.partition(":")
    path = Path(target)
    if colon:
        if not testset:
            raise SeedkitError(f"bad argument {spec!r}: empty test set name")
        return [Entry(system, testset, path, _load(path))]
    if not path.is_dir():
        raise SeedkitError(f"{spec!r}: not a directory; for a single file use "
                           "SYSTEM:TESTSET=FILE.json", path)
    found: dict[str, Path] = {}
    for sub in path.iterdir():
        if sub.is_dir() and (sub / "metrics.json").is_file():
            found[sub.name] = sub / "metrics.json"
        elif sub.is_file() and sub.suffix == ".json":
            found.setdefault(sub.stem, sub)
    if not found:
        raise SeedkitError("no <testset>/metrics.json or <testset>.json here; run "
                           "seedkit-metrics --json first", path)
    return [Entry(system, t, found[t], _load(found[t])) for t in sorted(found, key=natural_key)]


def collect(specs: Sequence[str]) -> list[Entry]:
    entries: list[Entry] = []
    seen: dict[tuple[str, str], Path] = {}
    for spec in specs:
        for e in parse_spec(spec):
            key = (e.system, e.testset)
            if key in seen:
                raise SeedkitError(f"system {e.system!r} has test set {e.testset!r} twice "
                                   f"({seen[key]} and {e.path})")
            seen[key] = e.path
            entries.append(e)
    return entries


def _dcf(metrics: dict, p: float) -> Optional[float]:
    for key, v in metrics.get("min_dcf", {}).items():
        if abs(float(v.get("p_target", key)) - p) < 1e-12:
            return float(v["value"])
    return None


def _dcf_ci(metrics: dict, p: float) -> Optional[list]:
    for key, v in metrics.get("ci", {}).get("min_dcf", {}).items():
        if abs(float(key) - p) < 1e-12:
            return v
    return None


def _with_ci(text: str, ci: Optional[list], fmt: str) -> str:
    return text if ci is None else f"{text} [{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def _ci_note(entries: Sequence[Entry]) -> str:
    kinds = dict.fromkeys(
        f"{e.metrics['ci']['level']:g}% percentile interval of {e.metrics['ci'].get('resamples')}"
        f" bootstrap resamples of the test set's {_unit_name(e.metrics['ci'].get('unit'))}"
        for e in entries if "ci" in e.metrics)
    if not kinds:
        return ""
    return ("[lo, hi] = " + "; ".join(kinds) + " (seedkit-metrics --ci; seed "
            + ", ".join(dict.fromkeys(str(e.metrics["ci"].get("seed")) for e in entries
                                      if "ci" in e.metrics)) + ").\n")


def _unit_name(unit) -> str:
    return {"model-segment": "enrollment models and test segments"}.get(unit, "speakers")


def _eer_diff(metrics: dict, base: Optional[dict]) -> str:
    """`` [lo, hi]`` of the paired EER difference when ``metrics`` was compared with the
    baseline's scores, else ``""``."""
    c = metrics.get("compare")
    if not c or base is None or c.get("other") != base.get("scores"):
        return ""
    lo, hi = c["eer_percent"]["interval"]
    return f" [{lo:+.2f}, {hi:+.2f}]"


def _rel(value: Optional[float], base: Optional[float]) -> str:
    if value is None or base is None or base == 0:
        return "n/a"
    return f"{100.0 * (value - base) / base:+.1f}%"


def markdown_table(entries: Sequence[Entry], baseline: str,
                   p_targets: Sequence[float] = (0.01, 0.05)) -> str:
    """The Markdown table (see module docstring); raises if ``baseline`` is not a system."""
    systems = list(dict.fromkeys(e.system for e in entries))
    if baseline not in systems:
        raise OptionError(Param("baseline"), f" {baseline!r} is not one of the systems: "
                          f"{', '.join(systems)}")
    testsets = list(dict.fromkeys(e.testset for e in entries))
    by = {(e.system, e.testset): e.metrics for e in entries}
    head = ["test set", "system", "trials", "EER (%)", "rel."]
    for p in p_targets:
        head += [f"minDCF@{p:g}", "rel."]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    for t in testsets:
        base = by.get((baseline, t))
        for s in systems:
            m = by.get((s, t))
            if m is None:
                continue
            is_base = s == baseline
            eer = float(m["eer_percent"])
            cells = [t, f"**{s}**" if is_base else s, str(m.get("num_trials", "")),
                     _with_ci(f"{eer:.3f}", m.get("ci", {}).get("eer_percent"), ".3f"),
                     "-" if is_base else _rel(eer, None if base is None
                                              else float(base["eer_percent"]))
                     + _eer_diff(m, base)]
            for p in p_targets:
                v = _dcf(m, p)
                cells.append("n/a" if v is None else _with_ci(f"{v:.4f}", _dcf_ci(m, p), ".4f"))
                cells.append("-" if is_base else _rel(v, None if base is None else _dcf(base, p)))
            lines.append("| " + " | ".join(cells) + " |")
    note = (f"\nrel. = (system - {baseline}) / {baseline}, per test set; negative is better. "
            "EER and minDCF (c_miss = c_fa = 1) as in voxceleb_trainer / SEED.\n")
    ci_note = _ci_note(entries)
    if ci_note:
        note += "\n" + ci_note
    if any(_eer_diff(e.metrics, by.get((baseline, e.testset))) for e in entries):
        note += ("\nrel. [lo, hi] of EER = the interval of the EER difference to "
                 f"{baseline} in points (paired: the same resamples, seedkit-metrics --compare)."
                 "\n")
    return "\n".join(lines) + "\n" + note
