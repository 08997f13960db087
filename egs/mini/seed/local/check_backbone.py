#!/usr/bin/env python3
"""local/check_backbone.py <backbone-conf> <allow-random: true|false>

Says before any work starts whether the backbone conf has its pretrained weights. Prints
``pretrained`` (the conf's ``checkpoint`` is ``resemblyzer`` or an existing file; for ``model:
ONNX``, its ``onnx`` file exists) or ``random`` (no weights, and random weights were allowed, with
a warning on stderr); otherwise prints one
``ERROR`` line naming the conf line and what to do, and exits 1. Paths are relative to the recipe
directory, as seedkit-extract reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from seedkit.errors import SeedkitError
from seedkit.models.config import load_backbone_config

PROG = "check_backbone.py"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("true", "false"):
        print(f"ERROR ({PROG}): {PROG}:0: usage: {PROG} <backbone-conf> true|false",
              file=sys.stderr)
        return 1
    conf, allow = Path(argv[0]), argv[1] == "true"
    try:  # every key and value as seedkit-extract will check them (binary file, bad YAML, ...)
        load_backbone_config(conf)
    except SeedkitError as err:
        print(err.format(PROG), file=sys.stderr)
        return 1
    text = conf.read_text(encoding="utf-8")
    cfg = yaml.safe_load(text) or {}
    if str(cfg.get("model", "")).lower() == "onnx":  # weights inside the .onnx: never random
        onnx = cfg.get("onnx")
        line = next((n for n, s in enumerate(text.splitlines(), 1) if s.startswith("onnx:")), 0)
        if onnx and Path(str(onnx)).is_file():
            print("pretrained")
            return 0
        print(f"ERROR ({PROG}): {conf}:{line}: ONNX model file {onnx} does not exist; an ONNX "
              "model carries its weights, so --allow-random-backbone cannot stand in for it: "
              "put the exported file there or edit 'onnx' (docs/backbones.md)", file=sys.stderr)
        return 1
    ckpt = cfg.get("checkpoint")
    line = next((n for n, s in enumerate(text.splitlines(), 1) if s.startswith("checkpoint:")), 0)
    if ckpt == "resemblyzer" or (ckpt and Path(str(ckpt)).is_file()):
        print("pretrained")
        return 0
    what = (f"checkpoint {ckpt} does not exist" if ckpt else "no checkpoint is given")
    model = cfg.get("model", "?")
    if allow:
        print(f"WARNING ({PROG}): {conf}:{line}: {what}: running {model} with RANDOM weights "
              "(--allow-random-backbone true); its embeddings, and every number computed from "
              "them, say nothing about the method", file=sys.stderr)
        print("random")
        return 0
    print(f"ERROR ({PROG}): {conf}:{line}: {what}. The official {model} weights cannot be "
          "downloaded by this recipe: put the file there (or edit 'checkpoint'), or rerun with "
          "--allow-random-backbone true to exercise the pipeline with random weights",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
