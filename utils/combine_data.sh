#!/usr/bin/env bash
# utils/combine_data.sh [--allow-repeated-keys true] <dest-data> <src-data> [<src-data> ...]
# Kaldi's combine_data.sh: the union of data dirs (wav.scp, utt2spk, spk2utt; utt2dur and segments
# when the sources have them), keys in C-locale order.
#  - default: a key in two sources is an error. When only some sources have segments (Libri-Light
#    cut at voice activity next to whole LibriTTS-R files), each utterance of the others becomes one
#    segment covering its whole recording (0 to its utt2dur).
#  - --allow-repeated-keys true (wav.scp, utt2spk, spk2utt only): a key may repeat if it names the
#    same speaker and byte-identical audio (the mini eval_snr* sets repeat eval_clean's clean
#    utterances); the first source's wav.scp entry is kept.
# Nothing is written when it fails. The work is seedkit-combine-data-dir's (seedkit.data.combine).
allow_repeated_keys=false   # true: a repeated key must name the same speaker and the same audio bytes
help_message="Usage: $0 [--allow-repeated-keys true] <dest-data> <src-data> [<src-data> ...]"
. "$(dirname "$(readlink -f "$0")")/parse_options.sh" || exit 1
. "$(dirname "$(readlink -f "$0")")/lib/recipe.sh"
set -euo pipefail
[ $# -ge 2 ] || die "$0" "expected <dest-data> <src-data>..., got $# arguments"
dest=$1
shift
need_tool seedkit-combine-data-dir
exec seedkit-combine-data-dir --allow-repeated-keys "$allow_repeated_keys" "$dest" "$@"
