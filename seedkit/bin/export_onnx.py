"""Export a SEED enhancer (one step) or a backbone to ONNX, for inference without torch.

  seedkit-export-onnx exp/seed/final.pt seed.onnx
  seedkit-export-onnx --config conf/seed_rdm_mlp3.yaml pretrained/ecapa_SEED_evalseed_898.model \\
      seed_ecapa.onnx                          # an official state dict (or a release config)
  seedkit-export-onnx --backbone conf/resnetse34v2.yaml resnet.onnx   # the conf's checkpoint

Enhancer: inputs embeddings [B, D] and epsilon [B, D] (float32; draw epsilon from N(0, I)),
output enhanced [B, D]; B is dynamic. Backbone (ResNetSE34V2, ECAPA_TDNN): input waveform [B, N]
(16 kHz, float in [-1, 1]; B and N dynamic, N >= 1024), output embedding [B, D]. The file appears
only when the export succeeded.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.embio import check_not_inputs
from seedkit.errors import SeedkitError
from seedkit.onnx_export import export_backbone, export_enhancer


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-export-onnx", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="SEED config for an official state dict (a seedkit conf or "
                                    "the release's YAML)")
    p.add_argument("--backbone", metavar="CONF",
                   help="export this backbone conf's model instead of a SEED model (a seedkit "
                        "backbone conf or the release's YAML)")
    p.add_argument("--checkpoint", help="with --backbone: weights file (default: the conf's)")
    p.add_argument("--allow-random-weights", action="store_true",
                   help="with --backbone: export random weights when there is no checkpoint "
                        "(tests only)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("inputs", nargs="+", metavar="MODEL OUT | OUT",
                   help="SEED model and output .onnx; with --backbone only the output")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    if args.backbone:
        if len(args.inputs) != 1:
            raise SeedkitError("with --backbone give only the output file: seedkit-export-onnx "
                               "--backbone CONF OUT.onnx")
        if args.config:
            raise SeedkitError("--config is the SEED model's config; with --backbone the conf "
                               "is --backbone's")
        out = args.inputs[0]
        check_not_inputs([out], [args.backbone, args.checkpoint])
        export_backbone(args.backbone, out, args.checkpoint, args.allow_random_weights)
        return 0
    if len(args.inputs) != 2:
        raise SeedkitError("give the SEED model and the output file: seedkit-export-onnx MODEL "
                           "OUT.onnx (or --backbone CONF OUT.onnx)")
    if args.checkpoint or args.allow_random_weights:
        raise SeedkitError("--checkpoint and --allow-random-weights go with --backbone")
    model, out = args.inputs
    check_not_inputs([out], [model, args.config])
    export_enhancer(model, out, args.config)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
