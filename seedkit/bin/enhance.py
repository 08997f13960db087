"""Enhance speaker embeddings with a trained SEED model (one-step by default).

Reads vectors or multi-crop matrices (every row is enhanced) from an rspecifier and writes the
enhanced embeddings, same keys and shapes, to a wspecifier; ark:- works on both ends. The model
is a seedkit checkpoint (final.pt, checkpoints/*.pt) or an official SEED diffusion checkpoint (a
bare RDM-MLP state dict), which needs --config. The diffusion noise of row r of key k comes from
a generator seeded by (--seed, k, r): the same seed gives the same output whatever the batch
size or archive order; --noise reads epsilon from an archive instead.
"""

from __future__ import annotations

import argparse

from seedkit.api import Enhancer
from seedkit.cli import entry, parse_args
from seedkit.device import device_name
from seedkit.embio import check_not_inputs
from seedkit.seed.enhance import enhance_archive


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-enhance", description=__doc__)
    p.add_argument("--config", help="SEED YAML config; required for official state dicts; with a "
                                    "seedkit checkpoint only its sampling keys are used")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--steps", type=int, help="1 = one-step (default from the model config); "
                                             "N > 1 = N-step DDIM")
    p.add_argument("--t-star", type=int, help="timestep of one-step enhancement (default from "
                                              "the model config, officially 50)")
    p.add_argument("--feature-ensemble", type=float, metavar="A",
                   help="output enhanced + A * normalised input (default from the model config, "
                        "officially 0)")
    p.add_argument("--noise", help="rspecifier of epsilon (same keys and shapes as the input)")
    p.add_argument("--batch-size", type=int, default=1024, help="rows per forward pass")
    p.add_argument("--device", default="cpu", help="auto|cpu|cuda|cuda:N (default cpu)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("model", help="final.pt, a checkpoint, or an official SEED state dict")
    p.add_argument("rspecifier", help="embeddings to enhance (scp:x.scp, ark:x.ark, ark:-)")
    p.add_argument("wspecifier", help="output (ark,scp:x.ark,x.scp, ark:x.ark, ark:-)")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    args.device = device_name(args.device)
    check_not_inputs([args.wspecifier], [args.model, args.rspecifier, args.noise, args.config])
    over = {}
    if args.feature_ensemble is not None:
        over["feature_ensemble"] = args.feature_ensemble
    enh = Enhancer.load(args.model, args.config, args.device, **over)
    enhance_archive(enh.model, args.rspecifier, args.wspecifier, device=args.device, seed=args.seed,
                    steps=args.steps, t_star=args.t_star, noise_rspec=args.noise,
                    batch_size=args.batch_size)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
