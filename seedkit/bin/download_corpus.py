"""Get one corpus onto disk for the VoxCeleb recipe (resumable; skipped once complete), or link a
copy you already have (--on-disk). Prints the corpus directory.

Corpora: voxceleb1 (lhotse's part URLs + veri_test2.txt; --parts test: the test part only),
musan, rirs_noises, librittsr (lhotse; --parts), librilight (small.tar, md5 checked),
voxconverse_sv (the SEED authors' zip). Each ends up as
<corpora-dir>/{voxceleb1,musan,RIRS_NOISES,LibriTTS_R,librilight,voxconverse_test_SV} with a
marker <corpora-dir>/.seedkit_<name>.complete.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.prepare.download import CORPUS_DIRS, DEFAULT_LIBRITTSR_PARTS, ensure_corpus


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-download-corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--on-disk", default=None, metavar="PATH",
                   help="use the copy at PATH (checked, then linked); download nothing")
    p.add_argument("--force", action="store_true", help="download again even if complete")
    p.add_argument("--url", default=None,
                   help="another source URL (librittsr: base URL; voxceleb1: trial list URL)")
    p.add_argument("--md5", default=None, help="md5 the archive must have")
    p.add_argument("--parts", nargs="+", default=None,
                   help="librittsr parts (default: " + " ".join(DEFAULT_LIBRITTSR_PARTS) + "); "
                        "voxceleb1 parts: dev and/or test (default: both; 'test' alone is "
                        "the 1 GB evaluation part, what the SEED recipe reads)")
    p.add_argument("corpus", choices=list(CORPUS_DIRS))
    p.add_argument("corpora_dir")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    path = ensure_corpus(args.corpus, args.corpora_dir, on_disk=args.on_disk, force=args.force,
                         url=args.url, md5=args.md5,
                         parts=tuple(args.parts) if args.parts else None)
    print(path)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
