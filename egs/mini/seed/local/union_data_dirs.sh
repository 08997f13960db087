#!/usr/bin/env bash
# local/union_data_dirs.sh <dest> <src-data-dir>...
#
# The union of data dirs whose utterance keys may repeat across them (wav.scp, utt2spk, spk2utt).
# The mini eval_snr* sets reuse eval_clean's clean utterances under the same keys (separate but
# identical files): the recipe extracts and enhances each utterance once, in data/eval_all, and
# gives every set a view of those embeddings. A key that appears twice must name byte-identical
# audio and the same speaker, else this fails.
set -euo pipefail
prog=union_data_dirs.sh
if [ $# -lt 2 ]; then
  echo "ERROR ($prog): $0:0: usage: $0 <dest> <src-data-dir>..." >&2
  exit 1
fi
dest=$1
shift
export LC_ALL=C
mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "${dest%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for d in "$@"; do
  for f in wav.scp utt2spk; do
    [ -f "$d/$f" ] || { echo "ERROR ($prog): $d/$f:0: missing; not a data dir" >&2; exit 1; }
  done
done

# utt2spk: identical duplicate lines collapse; a key left twice has two speakers.
for d in "$@"; do cat "$d/utt2spk"; done | sort -u > "$tmp/utt2spk"
bad=$(cut -d' ' -f1 "$tmp/utt2spk" | uniq -d | head -n 1)
if [ -n "$bad" ]; then
  echo "ERROR ($prog): $tmp/utt2spk:0: utterance $bad has two different speakers in $*" >&2
  exit 1
fi

# wav.scp: keep the first entry of a key; the others must be the same bytes.
for d in "$@"; do cat "$d/wav.scp"; done | sort -s -k1,1 \
  | awk -v dups="$tmp/dups" '$1 == prev { print first, $2 > dups; next }
                               { print; prev = $1; first = $2 }' > "$tmp/wav.scp"
if [ -f "$tmp/dups" ]; then
  while read -r a b; do
    cmp -s "$a" "$b" || { echo "ERROR ($prog): $b:0: differs from $a under the same key" >&2; exit 1; }
  done < "$tmp/dups"
fi
utt2spk_to_spk2utt.pl "$tmp/utt2spk" > "$tmp/spk2utt"
rm -f "$tmp/dups"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "LOG ($prog): $dest: $(wc -l < "$dest/utt2spk") utterances from $# data dirs" >&2
