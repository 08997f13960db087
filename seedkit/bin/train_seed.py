"""Train a SEED diffusion model on cached (paired, clean) speaker embeddings.

Runs as one process, or under torchrun for several (gloo on CPU, NCCL on GPU), e.g.
  torchrun --standalone --nproc_per_node=4 $(command -v seedkit-train-seed) --config C ... exp/seed
  torchrun --nnodes=2 --node_rank=R --nproc_per_node=8 --rdzv_backend=c10d \\
           --rdzv_endpoint=HOST:29400 --rdzv_id=seed1 $(command -v seedkit-train-seed) ...
Any config key can be overridden on the command line: --lr 1e-3, --batch-size 256, --epochs 5,
--ema-decay 0.999, ... (or --set key=value). The merged config is saved as <exp-dir>/config.yaml.
"""

from __future__ import annotations

import argparse
import sys

from seedkit.cli import entry, setup_logging
from seedkit.seed.config import (
    DEFAULTS,
    load_config_file,
    merge_config,
    overrides_from_args,
    parse_override,
)
from seedkit.seed.train import lost_peer_error, train_seed


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-train-seed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="SEED YAML config (e.g. conf/seed_rdm_mlp3.yaml), or a SEED "
                                    "release config as shipped (configs/*_SEED_rdmmlp3.yaml)")
    p.add_argument("--clean", required=True, help="rspecifier of clean-utterance embeddings")
    p.add_argument("--noisy", required=True, help="rspecifier of augmented-copy embeddings")
    p.add_argument("--pairs", required=True,
                   help="utt2clean: '<paired-utt> <clean-utt>' per line (paired looked up in "
                        "--noisy, then --clean)")
    p.add_argument("--dev-trials", help="optional dev trial list: dev EER after every epoch")
    p.add_argument("--dev-enroll", help="rspecifier of the dev enrollment embeddings")
    p.add_argument("--dev-test", help="rspecifier of the dev test embeddings "
                                      "(default: --dev-enroll)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in <exp-dir>/checkpoints (starts "
                        "from scratch when there is none)")
    p.add_argument("--seed", type=int, help="overrides the config's seed")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N (default auto)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("exp_dir", help="output directory")
    return p


def split_config_options(parser: argparse.ArgumentParser, argv: list[str]
                         ) -> tuple[list[str], list[str]]:
    """Separate ``--<config-key> VALUE`` tokens (keys not already parser options) from argv."""
    own = {s for a in parser._actions for s in a.option_strings}
    rest, cfg_tokens = [], []
    i = 0
    while i < len(argv):
        tok = argv[i]
        name = tok.split("=", 1)[0]
        key = name[2:].replace("-", "_") if name.startswith("--") else None
        if key in DEFAULTS and name not in own:
            if "=" in tok:
                cfg_tokens.append(tok)
                i += 1
            else:
                cfg_tokens.extend(argv[i:i + 2])
                i += 2
            continue
        rest.append(tok)
        i += 1
    return rest, cfg_tokens


def main(argv=None) -> int:
    parser = get_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    rest, cfg_tokens = split_config_options(parser, argv)
    args = parser.parse_args(rest)
    setup_logging(args.verbose)
    file_cfg, comment = load_config_file(args.config) if args.config else ({}, None)
    over = overrides_from_args(cfg_tokens)
    for item in args.set:
        k, v = parse_override(item)
        over[k] = v
    if args.seed is not None:
        over["seed"] = args.seed
    cfg = merge_config(file_cfg, over)
    try:
        train_seed(cfg, args.clean, args.noisy, args.pairs, args.exp_dir, resume=args.resume,
                   device=args.device, dev_trials=args.dev_trials, dev_enroll=args.dev_enroll,
                   dev_test=args.dev_test, config_comment=comment)
    except RuntimeError as err:
        lost = lost_peer_error(err)
        if lost is None:
            raise
        raise lost from None
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
