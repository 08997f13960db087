#!/usr/bin/env python3
"""local/pair_plan.py [--rounds K] [--fresh-crops true|false] [--materialise true|false]
    [--crop-sec SEC] [--backbone-conf YAML] CLEAN_DATA_DIR

Printed by run.sh before stages 3-4 (stderr): how many training pairs and backbone passes the
chosen K costs, and the disk they take (seedkit.prepare.plan.pair_plan).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seedkit.cli import entry
from seedkit.errors import SeedkitError
from seedkit.fileio import read_text
from seedkit.models.config import load_backbone_config
from seedkit.prepare.plan import pair_plan


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="pair_plan.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--fresh-crops", choices=("true", "false"), default="true")
    p.add_argument("--materialise", choices=("true", "false"), default="false")
    p.add_argument("--crop-sec", type=float, default=2.015)
    p.add_argument("--backbone-conf", default=None)
    p.add_argument("data_dir")
    args = p.parse_args(argv)
    utt2spk = Path(args.data_dir) / "utt2spk"
    if not utt2spk.is_file():
        raise SeedkitError("no utt2spk: not a data directory; run stage 2 first", utt2spk)
    num_utts = sum(1 for line in read_text(utt2spk).splitlines() if line.strip())
    dim = 512
    if args.backbone_conf:
        dim = load_backbone_config(args.backbone_conf).embed_dim or dim
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for line in pair_plan(num_utts, args.rounds, args.fresh_crops == "true",
                          args.materialise == "true", args.crop_sec, embed_dim=dim):
        print(f"{stamp} run.sh: {line}" if not line.startswith("  ") else line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    entry(main)()
