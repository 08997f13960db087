"""Write one rendered training-pair waveform (float32 wav) to stdout.

A spec-mode data dir (seedkit-augment-data-dir without --materialise) has wav.scp lines
  <key> seedkit-render-wav <dir>/render.spec <key> |
so Kaldi and other tools that run wav.scp pipes read the same audio that seedkit renders in
process. The entry's clean, MUSAN and RIR data dirs are named in render.sources beside the spec.
With --check-dir DATA_DIR it renders nothing and checks every render pipe of the dir instead.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.render import check_render_data_dir, write_rendered_wav


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-render-wav", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check-dir", default=None, metavar="DATA_DIR",
                   help="render nothing: check every render pipe of DATA_DIR's wav.scp (its "
                        "spec lines against their sources) and exit (utils/extract_embeddings.sh "
                        "runs this before its jobs)")
    p.add_argument("spec", nargs="?", help="render.spec of a spec-mode augmentation data dir")
    p.add_argument("key", nargs="?", help="the key of the waveform to render")
    return p


def main(argv=None) -> int:
    p = get_parser()
    args = parse_args(p, argv)
    if args.check_dir is not None:
        if args.spec is not None:
            p.error("--check-dir takes no SPEC KEY")
        check_render_data_dir(args.check_dir)
        return 0
    if args.key is None:
        p.error("expected SPEC KEY (or --check-dir DATA_DIR)")
    write_rendered_wav(args.spec, args.key)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
