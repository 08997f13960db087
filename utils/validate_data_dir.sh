#!/usr/bin/env bash
# utils/validate_data_dir.sh [--no-check-files] [--no-spk-sort] <data-dir>
# Checks a Kaldi data dir: every table parses (no blank, malformed or empty file), keys unique and
# sorted in the C locale, utt2spk/spk2utt/utt2dur/segments/wav.scp/extra tables consistent,
# utterance ids in speaker order, pipes well formed, and (unless --no-check-files) audio files
# exist. Prints "<dir>: OK (...)" or one ERROR line naming the file and line; exit status 1.
# Kaldi's --no-feats, --no-text and --non-print are accepted and ignored.
. "$(dirname "$(readlink -f "$0")")/lib/seedkit_cmd.sh"
args=()
for a in "$@"; do
  case $a in
    --no-feats|--no-text|--non-print|--no-wav) ;;
    *) args+=("$a") ;;
  esac
done
seedkit_cmd seedkit-validate-data-dir "${args[@]}"
