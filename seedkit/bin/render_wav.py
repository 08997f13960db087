"""Write one rendered training-pair waveform (float32 wav) to stdout.

A spec-mode data dir (seedkit-augment-data-dir without --materialise) has wav.scp lines
  <key> seedkit-render-wav <dir>/render.spec <key> |
so Kaldi and other tools that run wav.scp pipes read the same audio that seedkit renders in
process. The entry's clean, MUSAN and RIR data dirs are named in render.sources beside the spec.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-render-wav", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="render.spec of a spec-mode augmentation data dir")
    p.add_argument("key", help="the key of the waveform to render")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    from seedkit.augment import write_rendered_wav

    write_rendered_wav(args.spec, args.key)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
