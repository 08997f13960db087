#!/usr/bin/env bash
# utils/copy_data_dir.sh [--utt-prefix P] [--utt-suffix S] [--spk-prefix P] [--spk-suffix S]
#                        <src-dir> <dest-dir>
# Copies a Kaldi data dir, renaming utterance and speaker ids (e.g. --utt-prefix noisy- with
# --spk-prefix noisy- keeps utterance ids in speaker order).
. "$(dirname "$(readlink -f "$0")")/lib/seedkit_cmd.sh"
seedkit_cmd seedkit-copy-data-dir "$@"
