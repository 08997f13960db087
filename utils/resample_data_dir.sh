#!/usr/bin/env bash
# utils/resample_data_dir.sh: 16 kHz (or --sample-rate) mono 16-bit wav copies of a data dir's
# audio, made with ffmpeg in N parallel jobs.
#
#   utils/resample_data_dir.sh [options] <src-data> <dest-data> <wav-dir>
#
# Runs JOB=1:N "seedkit-resample-data-dir --job JOB --nj N" through $cmd (utils/run.pl or
# utils/slurm.pl; logs in <wav-dir>/log/resample.JOB.log), each converting its share of
# <src-data>/wav.scp (paths or "cmd |" pipes) into <wav-dir>, then writes <dest-data>: wav.scp
# pointing at the new files, utt2dur, and utt2spk/spk2utt/segments/utt2*/trials carried over.
# Finished files are skipped, so a re-run (or a re-run after an interruption) only does what is
# missing.
#
# e.g.: utils/resample_data_dir.sh --nj 8 data/local/librittsr_train_clean_100 \
#         data/librittsr_train_clean_100 exp/resample/librittsr_train_clean_100

cmd=run.pl            # job runner: run.pl (this machine) or "slurm.pl <options>"
nj=4                  # number of parallel jobs
sample_rate=16000     # output sample rate (Hz)
rate=                 # same as --sample-rate (kept for recipes that say --rate)

help_message="Usage: $0 [options] <src-data> <dest-data> <wav-dir>
Converts the audio of <src-data> to mono 16-bit wav at --sample-rate in <wav-dir> and writes the
data dir <dest-data> pointing at it.
Options:
  --cmd CMD            job runner [$cmd]
  --nj N               parallel jobs [$nj]
  --sample-rate HZ     output sample rate [$sample_rate] (--rate HZ is the same)"

utils_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$utils_dir/parse_options.sh" || exit 1
set -euo pipefail
export PATH=$utils_dir:$PATH
prog=resample_data_dir.sh
. "$utils_dir/lib/split_jobs.sh"

. "$utils_dir/lib/recipe.sh"  # die, need_args, need_tool

need_args 3 "<src-data> <dest-data> <wav-dir>" "$@"
src=$1
dest=$2
wavdir=$3
[ -n "$rate" ] && sample_rate=$rate

[ -f "$src/wav.scp" ] || die "$src/wav.scp" "no wav.scp: not a data directory"
[ -f "$src/utt2spk" ] || die "$src/utt2spk" "no utt2spk: not a data directory"
[[ $nj =~ ^[1-9][0-9]*$ ]] || die "$0" "--nj must be a positive integer, got '$nj'"
[[ $sample_rate =~ ^[1-9][0-9]*$ ]] || die "$0" "--sample-rate must be a positive integer, got '$sample_rate'"
need_tool seedkit-resample-data-dir

cap_nj "$src/wav.scp" recordings
nrec=$n_items

mkdir -p "$wavdir/log"
echo "LOG ($prog): converting $nrec recordings of $src with $nj jobs (logs: $wavdir/log/)" >&2
run_split_merge "$cmd" "$nj" "$wavdir/log" resample resampling \
  seedkit-resample-data-dir --sample-rate "$sample_rate" "$src" "$dest" "$wavdir"
echo "LOG ($prog): wrote $dest ($nrec recordings at $sample_rate Hz)" >&2
