#!/usr/bin/env bash
# utils/subset_data_dir.sh --utt-list <list> <src-dir> <dest-dir>
# utils/subset_data_dir.sh --spk-list <list> <src-dir> <dest-dir>
# Copies the utterances (or all utterances of the speakers) whose ids are the first field of the
# list's lines, with every table of the source dir.
. "$(dirname "$(readlink -f "$0")")/lib/seedkit_cmd.sh"
seedkit_cmd seedkit-subset-data-dir "$@"
