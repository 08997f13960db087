#!/usr/bin/env python3
"""local/check_models.py --backbone-conf FILE [--backbone-checkpoint FILE]
[--allow-random-weights true|false] [--seed-model FILE [--seed-conf FILE]]

Run by run.sh before stage 0: the backbone conf builds and its checkpoint loads, the SEED model
(when given) loads and fits the backbone's embedding size. Prints what it found, one line each;
otherwise one ERROR line naming the file, exit 1 (seedkit.preflight.check_models); the ERROR
names run.sh's options (--backbone-checkpoint, --allow-random-backbone true).
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, option_names
from seedkit.preflight import check_models


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="check_models.py", description=__doc__)
    p.add_argument("--backbone-conf", required=True)
    p.add_argument("--backbone-checkpoint", default="")
    p.add_argument("--allow-random-weights", choices=("true", "false"), default="false")
    p.add_argument("--seed-model", default="")
    p.add_argument("--seed-conf", default="")
    args = p.parse_args(argv)
    with option_names({"checkpoint": "--backbone-checkpoint",
                       "allow_random_weights": "--allow-random-backbone true"}):
        report = check_models(args.backbone_conf, args.backbone_checkpoint or None,
                              args.allow_random_weights == "true", args.seed_model or None,
                              args.seed_conf or None)
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    entry(main)()
