#!/usr/bin/env bash
# utils/augment_data_dir.sh: SEED's training pairs (K rounds of a clean crop + its {music, noise,
# reverb} copies), as render specs (default) or wav files made in N parallel jobs.
#
#   utils/augment_data_dir.sh [options] --musan <musan-data> --rirs <rir-data> \
#       <clean-data> <out-clean-crops> <out-aug>
#
# --materialise false (default): one seedkit-augment-data-dir run writes both data dirs with
# render.spec/render.sources and wav.scp render pipes, no audio (seedkit-extract renders them).
# --materialise true: runs JOB=1:N "seedkit-augment-data-dir --job JOB --nj N" through $cmd
# (utils/run.pl or utils/slurm.pl; logs in <out-aug>/log/augment.JOB.log), each making the wavs of
# its share of the clean utterances, then writes both data dirs (<out-aug> with utt2clean, utt2env,
# augment.info). Every draw is seeded per utterance and round, so the result does not depend on N;
# existing wavs are kept, so a re-run only makes what is missing.

cmd=run.pl            # job runner: run.pl (this machine) or "slurm.pl <options>"
nj=4                  # number of parallel jobs
rounds=               # K: rounds of copies per clean crop ("": the policy's, 1 for the release's)
augment_conf=         # augmentation policy YAML ("": the SEED release's music, noise, reverb)
crop_sec=2.015        # crop length in seconds (32,240 samples at 16 kHz)
seed=0                # seed of every draw
musan=                # MUSAN data dir (utt2spk = music|noise|speech)
rirs=                 # RIR data dir
sample_rate=16000     # rate of every input (Hz)
wav_subtype=PCM_16    # PCM_16 (scaled down only if it would clip) or FLOAT
materialise=false     # true: write every waveform as a wav; false: render.spec + render pipes
fresh_crops=true      # true: a fresh crop per round; false: one crop per utterance for all rounds

help_message="Usage: $0 [options] --musan <musan-data> --rirs <rir-data> <clean-data> <out-clean-crops> <out-aug>
Options:
  --cmd CMD            job runner [$cmd]
  --nj N               parallel jobs [$nj]
  --rounds K           rounds of copies per crop [the policy's: 1 for the release's]
  --augment-conf YAML  augmentation policy [the SEED release's music, noise, reverb]
  --crop-sec SEC       crop length [$crop_sec]
  --seed S             seed [$seed]
  --musan DIR          MUSAN data dir (required)
  --rirs DIR           RIR data dir (required)
  --sample-rate HZ     input rate [$sample_rate]
  --wav-subtype T      PCM_16 | FLOAT [$wav_subtype]
  --materialise BOOL   write wav files instead of render specs [$materialise]
  --fresh-crops BOOL   a fresh crop per round [$fresh_crops]"

utils_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$utils_dir/parse_options.sh" || exit 1
set -euo pipefail
export PATH=$utils_dir:$PATH
prog=augment_data_dir.sh
. "$utils_dir/lib/split_jobs.sh"

. "$utils_dir/lib/recipe.sh"  # die, need_args, need_tool

need_args 3 "<clean-data> <out-clean-crops> <out-aug>" "$@"
src=$1
crops=$2
aug=$3
[ -n "$musan" ] || die "$0" "--musan <musan-data> is required"
[ -n "$rirs" ] || die "$0" "--rirs <rir-data> is required"
[ -f "$src/utt2spk" ] || die "$src/utt2spk" "no utt2spk: not a data directory"
[[ $nj =~ ^[1-9][0-9]*$ ]] || die "$0" "--nj must be a positive integer, got '$nj'"
case $materialise in true|false) ;; *) die "$0" "--materialise expects true or false, got '$materialise'" ;; esac
case $fresh_crops in true|false) ;; *) die "$0" "--fresh-crops expects true or false, got '$fresh_crops'" ;; esac
need_tool seedkit-augment-data-dir

cap_nj "$src/utt2spk" utterances
nutt=$n_items
opts=(--crop-sec "$crop_sec" --seed "$seed" --musan "$musan" --rirs "$rirs"
      --sample-rate "$sample_rate" --wav-subtype "$wav_subtype" --materialise "$materialise"
      --fresh-crops "$fresh_crops")
[ -n "$rounds" ] && opts+=(--rounds "$rounds")
[ -n "$augment_conf" ] && opts+=(--augment-conf "$augment_conf")

mkdir -p "$aug/log"
if [ "$materialise" = false ]; then
  echo "LOG ($prog): planning $nutt utterances of $src (render specs, no audio)" >&2
  seedkit-augment-data-dir "${opts[@]}" "$src" "$crops" "$aug" 2> "$aug/log/augment.log" || {
    tail -n 1 "$aug/log/augment.log" >&2; exit 1; }
  echo "LOG ($prog): wrote $crops and $aug (render specs)" >&2
  exit 0
fi
echo "LOG ($prog): augmenting $nutt utterances of $src with $nj jobs (logs: $aug/log/)" >&2
run_split_merge "$cmd" "$nj" "$aug/log" augment augmentation \
  seedkit-augment-data-dir "${opts[@]}" "$src" "$crops" "$aug"
echo "LOG ($prog): wrote $crops and $aug" >&2
