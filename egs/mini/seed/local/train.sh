#!/usr/bin/env bash
# local/train.sh [options] <conf> <dir>: run.sh stage 5 for one model, SEED or the regression
# baseline (the same trainer, another conf), with torchrun (utils/train_seed.sh). Done when
# <dir>/.done matches the inputs (conf, options, embeddings); a run interrupted with the same inputs
# resumes from its latest checkpoint; changed inputs retrain from scratch.
nproc=1        # torchrun processes (CPU, gloo)
concurrent=1   # trainings run.sh runs at the same time: each process gets cores / (nproc x this) threads
seed=777       # training seed
device=cpu     # training device
train_opts=    # extra seedkit-train-seed options
bdir=          # exp/<backbone>: the embeddings in xvectors/train_aug and xvectors/train_crops
. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. utils/lib/recipe.sh
[ $# -eq 2 ] || die "$0" "expected <conf> <dir>, got $# arguments"
conf=$1
dir=$2
key=$(key_of train "$conf" "$nproc" "$train_opts" "$seed" "$bdir/xvectors/train_aug/.done" \
  data/train_aug/utt2clean)
if is_done "$dir/.done" "$key" "$dir/final.pt"; then skip "$dir"; exit 0; fi
resume=()
if [ "$(cat "$dir/.inputs" 2>/dev/null)" = "$key" ] && [ -d "$dir/checkpoints" ]; then
  log "$dir: continuing the interrupted run (--resume)"
  resume=(--resume)
else
  [ -d "$dir" ] && log "$dir: conf or inputs changed; training from scratch"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$key" > "$dir/.inputs"
fi
# local: torchrun runs in run.sh's process group, so a killed run.sh (even SIGKILL) stops it
runner="local/show_progress.sh $train_cmd"
[ "$cmd_backend" = local ] && runner="local/show_progress.sh --direct"
threads=$(job_threads $((nproc * concurrent)))
# shellcheck disable=SC2086
OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads run_job "$runner" "$dir/log/torchrun.log" \
  utils/train_seed.sh --nproc-per-node "$nproc" -- --config "$conf" "${resume[@]}" --seed "$seed" \
    --device "$device" $train_opts --pairs data/train_aug/utt2clean \
    --clean "scp:$bdir/xvectors/train_crops/xvector.scp" \
    --noisy "scp:$bdir/xvectors/train_aug/xvector.scp" "$dir"
grep -h 'final.pt\|pairs/s' "$dir/log/train.log" | tail -n 2 >&2 || true
mark_done "$dir/.done" "$key"
