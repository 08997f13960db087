#!/usr/bin/env bash
# utils/split_data.sh [--per-utt] <data-dir> <num-parts>
# Writes <data-dir>/split<N>/{1..N} (whole speakers per part) or, with --per-utt,
# <data-dir>/split<N>utt/{1..N}; parts are contiguous in sorted order, near-equal in size and
# never empty. A split of unchanged data is reused.
. "$(dirname "$(readlink -f "$0")")/lib/seedkit_cmd.sh"
seedkit_cmd seedkit-split-data-dir "$@"
