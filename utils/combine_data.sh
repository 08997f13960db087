#!/usr/bin/env bash
# utils/combine_data.sh [--allow-repeated-keys true] <dest-data> <src-data> [<src-data> ...]
# Kaldi's combine_data.sh: the union of data dirs (wav.scp, utt2spk, spk2utt; utt2dur and segments
# when the sources have them), keys in C-locale order.
#  - default: a key in two sources is an error. When only some sources have segments (Libri-Light
#    cut at voice activity next to whole LibriTTS-R files), each utterance of the others becomes one
#    segment covering its whole recording (0 to its utt2dur); seedkit.prepare.corpora does the work.
#  - --allow-repeated-keys true (wav.scp, utt2spk, spk2utt only): a key may repeat if it names the
#    same speaker and byte-identical audio (the mini eval_snr* sets repeat eval_clean's clean
#    utterances); the first source's wav.scp entry is kept.
# Nothing is written when it fails.
allow_repeated_keys=false   # true: a repeated key must name the same speaker and the same audio bytes
help_message="Usage: $0 [--allow-repeated-keys true] <dest-data> <src-data> [<src-data> ...]"
. "$(dirname "$(readlink -f "$0")")/parse_options.sh" || exit 1
. "$(dirname "$(readlink -f "$0")")/lib/recipe.sh"
set -euo pipefail
[ $# -ge 2 ] || die "$0" "expected <dest-data> <src-data>..., got $# arguments"
dest=$1
shift
for d in "$@"; do
  for f in wav.scp utt2spk; do [ -f "$d/$f" ] || die "$d/$f" "missing; not a data directory"; done
done
export LC_ALL=C

if ! $allow_repeated_keys; then
  python - "$dest" "$@" <<'PY'
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
PY
  exit
fi

mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "${dest%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# utt2spk: identical duplicate lines collapse; a key left twice has two speakers.
for d in "$@"; do cat "$d/utt2spk"; done | sort -u > "$tmp/utt2spk"
bad=$(cut -d' ' -f1 "$tmp/utt2spk" | uniq -d | head -n 1)
[ -z "$bad" ] || die "$tmp/utt2spk" "utterance $bad has two different speakers in $*"
# wav.scp: keep the first entry of a key; the others must be the same bytes.
for d in "$@"; do cat "$d/wav.scp"; done | sort -s -k1,1 \
  | awk -v dups="$tmp/dups" '$1 == prev { print first, $2 > dups; next }
                               { print; prev = $1; first = $2 }' > "$tmp/wav.scp"
if [ -f "$tmp/dups" ]; then
  while read -r a b; do
    cmp -s "$a" "$b" || die "$b" "differs from $a under the same key"
  done < "$tmp/dups"
fi
"$(dirname "$(readlink -f "$0")")/utt2spk_to_spk2utt.pl" "$tmp/utt2spk" > "$tmp/spk2utt"
rm -f "$tmp/dups"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "LOG (combine_data.sh): $dest: $(wc -l < "$dest/utt2spk") utterances from $# data dirs" >&2
