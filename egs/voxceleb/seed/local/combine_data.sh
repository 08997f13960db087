#!/usr/bin/env bash
# local/combine_data.sh <dest-data> <src-data> [<src-data> ...]: the union of data dirs (wav.scp,
# utt2spk, spk2utt, utt2dur and segments when every source has them). A key in two sources is an
# error. Recipe glue around seedkit.prepare.corpora.combine_data_dirs until utils/ has a
# combine_data.sh of its own.
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
import sys

from seedkit.errors import run_main
from seedkit.prepare.corpora import combine_data_dirs


def main(argv=None) -> int:
    dd = combine_data_dirs(sys.argv[2:], sys.argv[1])
    print(f"combine_data.sh: {sys.argv[1]}: {len(dd)} utterances from {len(sys.argv) - 2} "
          "data dirs", file=sys.stderr)
    return 0


sys.exit(run_main(main, prog="combine_data.sh"))
EOF
