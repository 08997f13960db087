#!/usr/bin/env bash
# utils/extract_embeddings.sh: speaker embeddings of a data directory with N parallel jobs.
#
#   utils/extract_embeddings.sh [options] <data-dir> <out-dir>
#
# Splits <data-dir> by utterance (<data-dir>/split<N>utt/), runs JOB=1:N seedkit-extract jobs
# through $cmd (utils/run.pl or utils/slurm.pl), each writing <out-dir>/xvector.JOB.{ark,scp} with
# its log in <out-dir>/log/extract.JOB.log, then merges them into <out-dir>/xvector.scp, checking
# that it holds exactly the utterances of <data-dir>. A re-run with the same options skips the
# jobs whose outputs are complete; changed options (or a changed conf / wav.scp / render.spec)
# redo all jobs. A spec-mode augmentation dir (wav.scp lines "seedkit-render-wav <spec> <key> |",
# utils/augment_data_dir.sh) is rendered in memory by each job, no audio on disk.
#
# e.g.: utils/extract_embeddings.sh --nj 4 --config conf/resnetse34v2.yaml \
#         --crop multi:10:4.015 data/vox1_o exp/resnetse34v2/xvectors/vox1_o

cmd=run.pl                  # job runner: run.pl (this machine) or "slurm.pl <options>"
nj=4                        # number of parallel jobs
config=                     # backbone conf YAML (default: GE2E with the resemblyzer weights)
checkpoint=                 # weights file overriding the conf's 'checkpoint'
crop=                       # full | random:SEC | multi:N:SEC (default: the conf's 'crop')
seed=0                      # seed of random:SEC crops
device=                     # cpu | cuda | cuda:N (default: cuda when available; local jobs spread over the GPUs: job j on cuda:(j-1) mod GPUs)
num_threads=1               # torch CPU threads per job (parallelism comes from --nj; 0: torch default)
batch_size=                 # crops per forward pass (default: the conf's)
allow_random_weights=false  # true: run without a checkpoint, with random weights (tests only)

help_message="Usage: $0 [options] <data-dir> <out-dir>
Extracts embeddings of <data-dir> into <out-dir>/xvector.scp with --nj parallel jobs.
Options:
  --cmd CMD                     job runner [$cmd]
  --nj N                        parallel jobs [$nj]
  --config FILE                 backbone conf YAML [GE2E/resemblyzer]
  --checkpoint FILE             weights overriding the conf's checkpoint
  --crop MODE                   full | random:SEC | multi:N:SEC [conf's crop]
  --seed S                      seed of random crops [$seed]
  --device D                    cpu | cuda | cuda:N [cuda when available]
  --num-threads T               torch CPU threads per job [torch default]
  --batch-size B                crops per forward pass [conf's]
  --allow-random-weights BOOL   run with random weights when there is no checkpoint [$allow_random_weights]"

. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh" || exit 1
set -euo pipefail
utils_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=$utils_dir:$PATH
prog=extract_embeddings.sh

. "$utils_dir/lib/recipe.sh"  # die, need_args, need_tool
. "$utils_dir/lib/split_jobs.sh"  # cap_nj, job_error_die

need_args 2 "<data-dir> <out-dir>" "$@"
data=$1
dir=$2

[ -f "$data/wav.scp" ] || die "$data/wav.scp" "no wav.scp: not a data directory"
[ -f "$data/utt2spk" ] || die "$data/utt2spk" "no utt2spk: not a data directory"
[[ $nj =~ ^[1-9][0-9]*$ ]] || die "$0" "--nj must be a positive integer, got '$nj'"
[ -z "$config" ] || [ -f "$config" ] || die "$config" "backbone conf not found"
need_tool seedkit-extract

cap_nj "$data/utt2spk" utterances
nutt=$n_items

opts=()
[ -n "$config" ] && opts+=(--config "$config")
[ -n "$checkpoint" ] && opts+=(--checkpoint "$checkpoint")
[ -n "$crop" ] && opts+=(--crop "$crop")
[ -n "$device" ] && opts+=(--device "$device")
[ -n "$batch_size" ] && opts+=(--batch-size "$batch_size")
[ "$num_threads" != 0 ] && opts+=(--num-threads "$num_threads")
case $allow_random_weights in
  true) opts+=(--allow-random-weights) ;;
  false) ;;
  *) die "$0" "--allow-random-weights expects true or false, got '$allow_random_weights'" ;;
esac
opts+=(--seed "$seed")

# A spec-mode augmentation dir: check the whole spec before any job writes anything.
if head -n 1 "$data/wav.scp" | grep -q ' seedkit-render-wav '; then
  need_tool seedkit-render-wav
  if ! check_log=$(seedkit-render-wav --check-dir "$data" 2>&1); then
    printf '%s\n' "$check_log" | grep -a -m1 '^ERROR' >&2 || printf '%s\n' "$check_log" >&2
    exit 1
  fi
fi

mkdir -p "$dir/log"

# What the outputs depend on; when it changes, the old per-job outputs are not reused.
signature=$( {
  printf '%s\n' "nj=$nj" "${opts[@]}"
  [ -n "$config" ] && cat "$config"
  [ -n "$checkpoint" ] && ls -lL "$checkpoint" 2>/dev/null
  cat "$data/wav.scp" "$data/utt2spk"
  # spec-mode augmentation dirs: what the render pipes render
  [ -f "$data/render.spec" ] && cat "$data/render.spec" "$data/render.sources"
  [ -f "$data/segments" ] && cat "$data/segments"
  true
} | sha256sum | cut -d' ' -f1)
if [ "$(cat "$dir/.extract_signature" 2>/dev/null)" != "$signature" ]; then
  rm -f "$dir"/xvector.*.ark "$dir"/xvector.*.scp "$dir/xvector.scp"
  echo "$signature" > "$dir/.extract_signature"
fi
# A job killed by SIGKILL (or by the watchdog of a killed run.sh) cannot remove the temporary
# files of the output it was writing (.xvector.N.ark.XXXXXXXX.tmp): nothing reads them, and no
# live job owns them now (the recipe's run lock holds this exp dir), so they go before the jobs.
rm -f "$dir"/.xvector.*.tmp

seedkit-split-data-dir --per-utt "$data" "$nj"
sdata=$data/split${nj}utt

echo "LOG ($prog): extracting $nutt utterances of $data with $nj jobs (logs: $dir/log/extract.*.log)" >&2
if ! $cmd JOB=1:"$nj" "$dir/log/extract.JOB.log" \
    seedkit-extract --skip-if-complete --job-index JOB "${opts[@]}" "$sdata/JOB" \
      "ark,scp:$dir/xvector.JOB.ark,$dir/xvector.JOB.scp"; then
  job_error_die "$dir/log" extract "extraction failed"
fi

scps=()
for j in $(seq "$nj"); do scps+=("$dir/xvector.$j.scp"); done
seedkit-merge-embedding-scp --data "$data" "$dir/xvector.scp" "${scps[@]}"
echo "LOG ($prog): wrote $dir/xvector.scp ($nutt utterances)" >&2
