#!/usr/bin/env bash
# local/combine_data.sh <dest-data> <src-data> [<src-data> ...]: the union of data dirs (wav.scp,
# utt2spk, spk2utt, utt2dur, segments). A key in two sources is an error. When only some sources
# have segments (Libri-Light cut at voice activity, --librilight-segments true, next to whole
# LibriTTS-R files), each utterance of the others becomes one segment covering its whole recording
# (0 to its utt2dur). Recipe glue around seedkit.prepare.corpora.combine_data_dirs until utils/
# has a combine_data.sh of its own.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "Usage: $0 <dest-data> <src-data> [<src-data> ...]" >&2
  exit 1
fi
dest=$1
shift
for d in "$@"; do
  [ -f "$d/utt2spk" ] || { echo "ERROR (combine_data.sh): $d/utt2spk:0: not a data directory" >&2; exit 1; }
done
python - "$dest" "$@" <<'EOF'
import shutil
import sys
from collections import OrderedDict
from pathlib import Path

from seedkit.data.datadir import load_data_dir, write_data_dir
from seedkit.errors import SeedkitError, run_main
from seedkit.prepare.corpora import combine_data_dirs


def main(argv=None) -> int:
    dest, srcs = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    dds = [load_data_dir(s) for s in srcs]
    tmp = dest.parent / f".{dest.name}.segmented"
    if any(dd.segments is not None for dd in dds) and any(dd.segments is None for dd in dds):
        shutil.rmtree(tmp, ignore_errors=True)
        for i, (src, dd) in enumerate(zip(srcs, dds)):
            if dd.segments is not None:
                continue
            if dd.utt2dur is None or set(dd.utt2dur) != set(dd.utt2spk):
                raise SeedkitError("needs utt2dur for every utterance to combine with data dirs "
                                   "that have segments", src / "utt2dur")
            dd.segments = OrderedDict((u, (u, 0.0, dd.utt2dur[u])) for u in dd.utt2spk)
            srcs[i] = tmp / str(i)
            write_data_dir(dd, srcs[i])
    out = combine_data_dirs(srcs, dest)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"combine_data.sh: {dest}: {len(out)} utterances from {len(srcs)} data dirs",
          file=sys.stderr)
    return 0


sys.exit(run_main(main, prog="combine_data.sh"))
EOF
