"""Synthesise the mini corpus: espeak-ng speakers, noise/music/babble and RIR libraries in MUSAN and
RIRS_NOISES layouts, held-out environments, and the eval sets (eval_clean, eval_mix,
eval_snr{0,5,10,15}) with trials. Same --seed, same bytes."""

from __future__ import annotations

import argparse
import dataclasses
import sys

import yaml

from seedkit.cli import entry, parse_args
from seedkit.corpus import CorpusConfig, make_mini_corpus
from seedkit.errors import SeedkitError
from seedkit.fileio import read_text

#: Scalar config fields offered as options (every field can be set with --config).
_SCALARS = [f for f in dataclasses.fields(CorpusConfig) if f.type in ("int", "float")]
_TUPLES = [f for f in dataclasses.fields(CorpusConfig) if f.type.startswith("tuple")]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seedkit-make-mini-corpus", description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", help="YAML/JSON file of CorpusConfig keys (options given on the "
                   "command line override it)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing non-empty output directory")
    p.add_argument("-v", "--verbose", action="store_true")
    default = CorpusConfig()
    for f in _SCALARS:
        p.add_argument(f"--{f.name.replace('_', '-')}", type=int if f.type == "int" else float,
                       default=None, help=f"(default {getattr(default, f.name)})")
    for f in _TUPLES:
        value = ",".join(str(v) for v in getattr(default, f.name))
        p.add_argument(f"--{f.name.replace('_', '-')}", default=None,
                       help=f"comma-separated (default {value})")
    p.add_argument("out_dir", help="corpus directory to create")
    return p


def _tuple_value(name: str, text: str, like: tuple) -> tuple:
    kind = type(like[0]) if like else str
    try:
        return tuple(kind(v) for v in text.split(",") if v != "")
    except ValueError:
        raise SeedkitError(f"--{name.replace('_', '-')}: cannot read {text!r} as "
                           f"comma-separated {kind.__name__} values") from None


def build_config(args: argparse.Namespace) -> CorpusConfig:
    """CorpusConfig from --config and the command-line options."""
    data: dict = {}
    if args.config:
        try:
            data = yaml.safe_load(read_text(args.config, "corpus config (YAML)")) or {}
        except OSError as err:
            raise SeedkitError(f"cannot read config ({err.strerror})", args.config) from None
        except yaml.YAMLError as err:
            raise SeedkitError(f"not valid YAML/JSON: {err}", args.config) from None
        if not isinstance(data, dict):
            raise SeedkitError("config must be a mapping of CorpusConfig keys", args.config)
    cfg = CorpusConfig.from_dict(data)
    default = CorpusConfig()
    for f in _SCALARS:
        value = getattr(args, f.name)
        if value is not None:
            setattr(cfg, f.name, value)
    for f in _TUPLES:
        value = getattr(args, f.name)
        if value is not None:
            setattr(cfg, f.name, _tuple_value(f.name, value, getattr(default, f.name)))
    return cfg


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    cfg = build_config(args)
    summary = make_mini_corpus(args.out_dir, cfg, force=args.force)
    utts = summary["counts"]["utterances"]
    hours = summary["counts"]["hours"]
    speech = ", ".join(f"{k} {utts[k]} ({hours[k]:.2f} h)" for k in ("train", "eval", "babble"))
    sets = ", ".join(f"{k} {v['trials']}" for k, v in summary["eval_sets"].items())
    print(f"{args.out_dir}: utterances {speech}; trials {sets}", file=sys.stderr)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
