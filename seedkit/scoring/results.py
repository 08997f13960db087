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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seedkit.errors import SeedkitError
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
    if bad:
        raise SeedkitError(f"damaged seedkit-metrics JSON: {bad}; re-run seedkit-metrics --json",
                           path)
    return data


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


def _rel(value: Optional[float], base: Optional[float]) -> str:
    if value is None or base is None or base == 0:
        return "n/a"
    return f"{100.0 * (value - base) / base:+.1f}%"


def markdown_table(entries: Sequence[Entry], baseline: str,
                   p_targets: Sequence[float] = (0.01, 0.05)) -> str:
    """The Markdown table (see module docstring); raises if ``baseline`` is not a system."""
    systems = list(dict.fromkeys(e.system for e in entries))
    if baseline not in systems:
        raise SeedkitError(f"--baseline {baseline!r} is not one of the systems: "
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
                     f"{eer:.3f}", "-" if is_base else _rel(eer, None if base is None
                                                             else float(base["eer_percent"]))]
            for p in p_targets:
                v = _dcf(m, p)
                cells.append("n/a" if v is None else f"{v:.4f}")
                cells.append("-" if is_base else _rel(v, None if base is None else _dcf(base, p)))
            lines.append("| " + " | ".join(cells) + " |")
    note = (f"\nrel. = (system - {baseline}) / {baseline}, per test set; negative is better. "
            "EER and minDCF (c_miss = c_fa = 1) as in voxceleb_trainer / SEED.\n")
    return "\n".join(lines) + "\n" + note
