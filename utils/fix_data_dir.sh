#!/usr/bin/env bash
# utils/fix_data_dir.sh <data-dir>
# Sorts every table of a Kaldi data dir (C locale), keeps only utterances present in every table,
# rebuilds spk2utt, in place; prints "kept N utterances, dropped M". Duplicate keys are an error.
. "$(dirname "$(readlink -f "$0")")/lib/seedkit_cmd.sh"
seedkit_cmd seedkit-fix-data-dir "$@"
