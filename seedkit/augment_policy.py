"""Augmentation policies: which corrupted copies SEED's training pairs get, from which sources.

A policy is a small YAML file (``egs/*/seed/conf/augment_*.yaml``) read by stage 3
(``seedkit-augment-data-dir --augment-conf``) and by the on-the-fly trainer
(``seedkit-train-seed --on-the-fly --augment-conf``), so both draw the same pairs::

    rounds: 1              # K: rounds of a clean crop + one copy per type, per utterance
    types:                 # one corrupted copy of every clean crop per type, in this order
      - name: music        # key suffix: <utt>-<name><round>
        kind: additive     # additive | reverb | reverb+additive | babble
        sources: [music]   # MUSAN categories (music, noise, speech); rirs for reverb
        snr: [5, 15]       # dB, drawn uniformly (additive, reverb+additive, babble)
      - {name: noise, kind: additive, sources: [noise], snr: [0, 15]}
      - {name: reverb, kind: reverb, sources: [rirs]}

Kinds (each draw comes from the round's own generator, in the order listed):

- ``additive``: one recording of the listed MUSAN categories (pooled, C-sorted keys), a random
  crop-length segment, mixed at an SNR drawn from ``snr`` (SEED's mixing);
- ``reverb``: one RIR (unit energy, full convolution truncated: SEED's reverb);
- ``reverb+additive``: reverb first, then an additive recording mixed into the reverberant
  speech (the compound corruption of Kaldi's and wespeaker's augmentation);
- ``babble``: ``speakers`` [lo, hi] MUSAN speech recordings (distinct), each a random segment,
  summed, then mixed at ``snr`` (Kaldi's babble: 3-7 speakers, 13-20 dB).

:data:`RELEASE` is the SEED release's policy (music 5-15 dB, noise 0-15 dB, reverb; K = 1): the
default everywhere, and it gives byte-identical render specs to seedkit before policies existed.
Every problem of a policy file is one :class:`SeedkitError` naming the file and line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from seedkit.errors import PathLike, SeedkitError

#: the kinds of pair type a policy may use
TYPE_KINDS = ("additive", "reverb", "reverb+additive", "babble")
#: MUSAN categories (the ``utt2spk`` values of the MUSAN data dir)
MUSAN_SOURCES = ("music", "noise", "speech")
#: the RIR data dir
RIR_SOURCE = "rirs"
#: the SNR limits a policy may ask for, in dB
SNR_LIMITS = (-20.0, 60.0)
#: babble speaker-count limits
BABBLE_LIMITS = (1, 20)
TYPE_KEYS = ("name", "kind", "sources", "snr", "speakers")
TOP_KEYS = ("rounds", "types")
_NAME = re.compile(r"^[a-z][a-z_]*$")


@dataclass(frozen=True)
class PairType:
    """One corrupted copy of every clean crop: ``kind`` from ``sources`` at an SNR in ``snr``."""

    name: str
    kind: str
    sources: tuple[str, ...]
    snr: Optional[tuple[float, float]] = None
    speakers: Optional[tuple[int, int]] = None

    @property
    def musan_sources(self) -> tuple[str, ...]:
        """The MUSAN categories this type draws from (empty for ``reverb``)."""
        return tuple(s for s in self.sources if s != RIR_SOURCE)


@dataclass(frozen=True)
class AugmentPolicy:
    """A list of pair types and the number of rounds per utterance (see the module docstring)."""

    types: tuple[PairType, ...]
    rounds: int = 1
    path: Optional[str] = None  # the file it came from (None: built in)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)

    def musan_categories(self) -> tuple[str, ...]:
        """Every MUSAN category some type draws from, in first-use order."""
        out: list[str] = []
        for t in self.types:
            out += [s for s in t.musan_sources if s not in out]
        return tuple(out)

    def uses_rirs(self) -> bool:
        return any(t.kind in ("reverb", "reverb+additive") for t in self.types)

    def describe(self) -> str:
        """One line: ``music 5-15 dB, noise 0-15 dB, reverb`` (K rounds)."""
        parts = []
        for t in self.types:
            what = t.name if t.name == "+".join(t.sources) else \
                f"{t.name} ({t.kind}: {', '.join(t.sources)})"
            if t.snr is not None:
                what += f" {t.snr[0]:g}-{t.snr[1]:g} dB"
            if t.speakers is not None:
                what += f", {t.speakers[0]}-{t.speakers[1]} speakers"
            parts.append(what)
        return ", ".join(parts)

    def digest(self) -> str:
        """A short hash of what the policy draws (not where it came from)."""
        return hashlib.sha256(repr((self.rounds, self.types)).encode()).hexdigest()[:12]

    def is_release(self) -> bool:
        return self.types == RELEASE.types


RELEASE = AugmentPolicy((
    PairType("music", "additive", ("music",), (5.0, 15.0)),
    PairType("noise", "additive", ("noise",), (0.0, 15.0)),
    PairType("reverb", "reverb", (RIR_SOURCE,)),
))


# ----------------------------------------------------------------------------- YAML with lines

def _plain(node: yaml.Node) -> Any:
    """A composed YAML node as plain Python values (mappings, lists, scalars)."""
    return yaml.safe_load(yaml.serialize(node))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node, path: Path, what: str) -> dict[str, tuple[yaml.Node, int]]:
    """``key -> (value node, line of the key)``; a repeated key or a non-mapping is an error."""
    if not isinstance(node, yaml.MappingNode):
        raise SeedkitError(f"{what} must be a mapping of 'key: value' lines", path, _line(node))
    out: dict[str, tuple[yaml.Node, int]] = {}
    for k, v in node.value:
        key = str(k.value)
        if key in out:
            raise SeedkitError(f"{what}: key {key!r} repeats line {out[key][1]}", path, _line(k))
        out[key] = (v, _line(k))
    return out


def _number_pair(node: yaml.Node, path: Path, what: str, integer: bool) -> tuple:
    value = _plain(node)
    kind = "integers" if integer else "numbers"
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int if integer else (int, float)) and not isinstance(v, bool)
        for v in value)
    if not ok:
        raise SeedkitError(f"{what} must be two {kind} [LO, HI], got {value!r}", path,
                           _line(node))
    return tuple(int(v) if integer else float(v) for v in value)



def _required_pair(fields: dict[str, tuple[yaml.Node, int]], key: str, node: yaml.Node,
                   path: Path, what: str, needs: str, integer: bool) -> tuple[tuple, int]:
    """The pair ``fields[key]`` and its line; the error ``what: needs`` at the line of the type
    (``node``) when the key is absent."""
    if key not in fields:
        raise SeedkitError(f"{what}: {needs}", path, _line(node))
    pnode, pline = fields[key]
    return _number_pair(pnode, path, f"{what}: {key}", integer=integer), pline

def _type(node: yaml.Node, path: Path, index: int) -> PairType:
    what = f"types[{index}]"
    fields = _mapping(node, path, what)
    for key, (_, line) in fields.items():
        if key not in TYPE_KEYS:
            raise SeedkitError(f"{what}: unknown key {key!r}; known: {', '.join(TYPE_KEYS)}",
                               path, line)
    for key in ("name", "kind", "sources"):
        if key not in fields:
            raise SeedkitError(f"{what} has no {key!r}", path, _line(node))
    name, kind = _plain(fields["name"][0]), _plain(fields["kind"][0])
    if not isinstance(name, str) or not _NAME.match(name) or name == "clean":
        raise SeedkitError(f"{what}: name must be lower-case letters and '_' (not 'clean'): it "
                           f"ends the pair keys <utt>-<name><round>; got {name!r}", path,
                           fields["name"][1])
    if kind not in TYPE_KINDS:
        raise SeedkitError(f"{what} ({name}): unknown kind {kind!r}; known: "
                           f"{', '.join(TYPE_KINDS)}", path, fields["kind"][1])
    snode, sline = fields["sources"]
    sources = _plain(snode)
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources:
        raise SeedkitError(f"{what} ({name}): empty source list; a {kind} type needs "
                           + ("[rirs]" if kind == "reverb" else "one or more of "
                              + ", ".join(MUSAN_SOURCES)
                              + (" (and rirs)" if kind == "reverb+additive" else "")),
                           path, sline)
    allowed = {"additive": MUSAN_SOURCES, "babble": ("speech",), "reverb": (RIR_SOURCE,),
               "reverb+additive": MUSAN_SOURCES + (RIR_SOURCE,)}[kind]
    for s in sources:
        if s not in allowed:
            raise SeedkitError(f"{what} ({name}): unknown source {s!r} for a {kind} type; "
                               f"known: {', '.join(allowed)}", path, sline)
    if len(set(sources)) != len(sources):
        raise SeedkitError(f"{what} ({name}): a source is listed twice: {sources}", path, sline)
    if kind == "reverb+additive":
        if RIR_SOURCE not in sources:
            sources = [RIR_SOURCE] + sources
        if len(sources) < 2:
            raise SeedkitError(f"{what} ({name}): empty source list for the additive part; "
                               f"add one or more of {', '.join(MUSAN_SOURCES)}", path, sline)
    snr = None
    if kind == "reverb":
        if "snr" in fields:
            raise SeedkitError(f"{what} ({name}): a reverb type has no SNR; remove 'snr'", path,
                               fields["snr"][1])
    else:
        snr, sline = _required_pair(fields, "snr", node, path, f"{what} ({name})",
                                    f"a {kind} type needs snr: [LO, HI] (dB)", integer=False)
        lo, hi = SNR_LIMITS
        if not lo <= snr[0] <= hi or not lo <= snr[1] <= hi:
            raise SeedkitError(f"{what} ({name}): snr {list(snr)} is outside [{lo:g}, {hi:g}] dB",
                               path, sline)
        if snr[0] > snr[1]:
            raise SeedkitError(f"{what} ({name}): snr range reversed ({snr[0]:g} > {snr[1]:g}); "
                               "write [LO, HI]", path, sline)
    speakers = None
    if kind == "babble":
        speakers, pline = _required_pair(fields, "speakers", node, path, f"{what} ({name})",
                                         "a babble type needs speakers: [LO, HI]", integer=True)
        lo, hi = BABBLE_LIMITS
        if not lo <= speakers[0] <= speakers[1] <= hi:
            raise SeedkitError(f"{what} ({name}): speakers must satisfy {lo} <= LO <= HI <= {hi}, "
                               f"got {list(speakers)}", path, pline)
    elif "speakers" in fields:
        raise SeedkitError(f"{what} ({name}): 'speakers' is for babble types only", path,
                           fields["speakers"][1])
    return PairType(name, kind, tuple(sources), snr, speakers)


def parse_policy(text: str, path: PathLike) -> AugmentPolicy:
    """Parse a policy from YAML ``text`` (errors name ``path`` and the line)."""
    path = Path(path)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", -1) + 1
        raise SeedkitError(f"not valid YAML: {err}".replace("\n", " "), path, line) from None
    if root is None:
        raise SeedkitError("empty augmentation policy; see egs/mini/seed/conf/"
                           "augment_release.yaml", path, 1)
    top = _mapping(root, path, "an augmentation policy")
    for key, (_, line) in top.items():
        if key not in TOP_KEYS:
            raise SeedkitError(f"unknown key {key!r}; known: {', '.join(TOP_KEYS)}", path, line)
    rounds = 1
    if "rounds" in top:
        node, line = top["rounds"]
        rounds = _plain(node)
        if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= 1000:
            raise SeedkitError(f"rounds must be an integer in 1..1000, got {rounds!r}", path, line)
    if "types" not in top:
        raise SeedkitError("no 'types' list; see egs/mini/seed/conf/augment_release.yaml", path,
                           1)
    node, line = top["types"]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise SeedkitError("types must be a non-empty list of pair types", path, line)
    types = tuple(_type(n, path, i) for i, n in enumerate(node.value))
    seen: dict[str, int] = {}
    for i, t in enumerate(types):
        if t.name in seen:
            raise SeedkitError(f"type name {t.name!r} is used twice (types[{seen[t.name]}] and "
                               f"types[{i}]); names must differ", path, _line(node.value[i]))
        seen[t.name] = i
    return AugmentPolicy(types, rounds, str(path))


def load_policy(path: Optional[PathLike]) -> AugmentPolicy:
    """Read a policy file; ``None`` gives :data:`RELEASE`."""
    if path is None:
        return RELEASE
    p = Path(path)
    if p.is_dir():
        raise SeedkitError("is a directory; expected an augmentation policy (YAML)", p)
    if not p.is_file():
        raise SeedkitError("augmentation policy not found; give a file like "
                           "egs/mini/seed/conf/augment_release.yaml", p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SeedkitError("not UTF-8 text; expected an augmentation policy (YAML)", p) from None
    return parse_policy(text, p)


__all__ = ["AugmentPolicy", "PairType", "RELEASE", "SNR_LIMITS", "TYPE_KINDS", "load_policy",
           "parse_policy"]
