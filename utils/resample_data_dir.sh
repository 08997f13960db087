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
# --in-place true: no copies of the files soundfile reads (wav, FLAC; mono): a 16-bit wav already at
# the rate keeps its path, any other becomes "seedkit-resample-wav <rate> <file> |" (resampled in
# memory when read); one job reads the headers and converts only the other entries into <wav-dir>.
# --source-rate HZ: every source file's header is read before any conversion and a file at
# another rate ends the run with one ERROR line naming it and its wav.scp line.
#
# e.g.: utils/resample_data_dir.sh --nj 8 data/local/librittsr_train_clean_100 \
#         data/librittsr_train_clean_100 exp/resample/librittsr_train_clean_100

cmd=run.pl            # job runner: run.pl (this machine) or "slurm.pl <options>"
nj=4                  # number of parallel jobs
sample_rate=16000     # output sample rate (Hz)
rate=                 # same as --sample-rate (kept for recipes that say --rate)
in_place=false        # true: read the source files where they lie (no copies; see above)
source_rate=          # the rate every source file must have ("" = any)

help_message="Usage: $0 [options] <src-data> <dest-data> <wav-dir>
Converts the audio of <src-data> to mono 16-bit wav at --sample-rate in <wav-dir> and writes the
data dir <dest-data> pointing at it.
Options:
  --cmd CMD            job runner [$cmd]
  --nj N               parallel jobs [$nj]
  --sample-rate HZ     output sample rate [$sample_rate] (--rate HZ is the same)
  --in-place BOOL      true: no copies of the files soundfile reads [$in_place]
  --source-rate HZ     the rate every source file must have (\"\" = any) [$source_rate]"

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
case $in_place in true|false) ;; *) die "$0" "--in-place must be true or false, got '$in_place'" ;; esac
[ -z "$source_rate" ] || [[ $source_rate =~ ^[1-9][0-9]*$ ]] || \
  die "$0" "--source-rate must be a positive integer, got '$source_rate'"
need_tool seedkit-resample-data-dir

cap_nj "$src/wav.scp" recordings
nrec=$n_items
opts=(--sample-rate "$sample_rate")
[ -n "$source_rate" ] && opts+=(--source-rate "$source_rate")

mkdir -p "$wavdir/log"
if $in_place; then
  echo "LOG ($prog): reading the $nrec recordings of $src in place (log: $wavdir/log/)" >&2
  run_job "$cmd" "$wavdir/log/resample.in_place.log" \
    seedkit-resample-data-dir --in-place "${opts[@]}" "$src" "$dest" "$wavdir"
  echo "LOG ($prog): wrote $dest ($nrec recordings at $sample_rate Hz, read in place)" >&2
  exit 0
fi
if [ -n "$source_rate" ]; then  # every header before any conversion
  run_job "$cmd" "$wavdir/log/resample.check.log" \
    seedkit-resample-data-dir --check-only "${opts[@]}" "$src" "$dest" "$wavdir"
fi
echo "LOG ($prog): converting $nrec recordings of $src with $nj jobs (logs: $wavdir/log/)" >&2
run_split_merge "$cmd" "$nj" "$wavdir/log" resample resampling \
  seedkit-resample-data-dir "${opts[@]}" "$src" "$dest" "$wavdir"
echo "LOG ($prog): wrote $dest ($nrec recordings at $sample_rate Hz)" >&2
