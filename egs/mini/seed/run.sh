#!/usr/bin/env bash
# The embedded mini recipe: the whole SEED pipeline (corpus -> data dirs -> 16 kHz -> augmentation
# -> backbone embeddings -> SEED training -> enhancement -> scoring) on a synthesised corpus, on two
# CPU cores, in minutes. It runs the same seedkit commands as egs/voxceleb/seed/run.sh.
#
#   ./run.sh                          # everything (stages 0-7); a re-run skips finished work
#   ./run.sh --stage 5                # from SEED training on (e.g. after editing conf/seed_*.yaml)
#   ./run.sh --mini-size tiny         # a reduced corpus (what the tests run)
#   ./run.sh --backbone-conf conf/ecapa_tdnn.yaml --allow-random-backbone true
#   SEEDKIT_CMD=slurm ./run.sh        # jobs through utils/slurm.pl (cmd.sh)
#
# Outputs (inside this directory): corpus/ (synthesised audio), data/<set>/ (Kaldi data dirs),
# exp/ (audio copies, embeddings, models, scores, logs), RESULTS.md. See docs/mini_recipe.md.

. ./path.sh || exit 1

stage=0                         # first stage to run
stop_stage=7                    # last stage to run
seed=777                        # seed of every stochastic step (corpus, crops, training, noise)
mini_size=default               # default | tiny: corpus size (tiny: for tests)
corpus=corpus                   # stage 0 writes the synthetic corpus here
nj=2                            # parallel jobs (resampling, augmentation, extraction)
nproc=2                         # torchrun processes for SEED training (CPU, gloo)
device=cpu                      # extraction, training and enhancement device (cpu | cuda)
aug_rounds=2                    # K: rounds of {music, noise, reverb} copies per clean crop
fresh_crops=true                # true: a fresh crop per round; false: every round corrupts one crop
materialise=false               # false: stage 3 writes pair specs, stage 4 renders them; true: wavs
crop_sec=2.015                  # training crop length (SEED: 200 frames + 240 samples)
backbone_conf=conf/ge2e.yaml    # frozen speaker model; conf/ecapa_tdnn.yaml swaps it
allow_random_backbone=false     # true: a backbone without its checkpoint runs on random weights
seed_conf=conf/seed_rdm_mlp3.yaml          # SEED diffusion model and training
regression_conf=conf/seed_regression.yaml  # the same network trained by direct regression
train_opts=                     # extra seedkit-train-seed options for both, e.g. "--epochs 10"
eval_sets="eval_clean eval_mix eval_snr0 eval_snr5 eval_snr10 eval_snr15"
eval_crop=full                  # eval embeddings: full | multi:N:SEC (then --score-method seed)
score_method=cosine             # seedkit-score --method
t_star=                         # SEED one-step timestep ("" = the model's config, officially 50)
p_target=0.01,0.05              # minDCF priors

help_message="Usage: $0 [options]
The mini SEED recipe (docs/mini_recipe.md). Stages (--stage N --stop-stage M; default 0..7):
  0 synthesise the corpus (seedkit-make-mini-corpus)      -> \$corpus/
  1 lhotse manifests -> Kaldi data dirs                    -> data/manifests/, data/local/<set>/
  2 16 kHz mono wav (ffmpeg; --nj jobs via cmd.sh)        -> data/<set>/ (audio in exp/resample/)
  3 training pairs: K rounds of a clean crop + {music, noise, reverb} copies of it, as
    specs rendered by stage 4 (--materialise true: as wav files) -> data/train_crops/, data/train_aug/
  4 backbone embeddings                                    -> exp/<backbone>/xvectors/<set>/
  5 SEED and regression-baseline training (torchrun)       -> exp/<backbone>/<conf-name>/
  6 enhancement of the eval sets                           -> exp/<backbone>/<conf-name>/xvectors/
  7 scoring, EER/minDCF, DET plots, RESULTS.md             -> exp/<backbone>/scores/, RESULTS.md
Finished work is skipped on a re-run; work whose inputs, options or conf changed is redone.
Size: --mini-size default (the README's numbers) or tiny (seconds per stage; for tests)."

. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. local/lib.sh

if [ $# -ne 0 ]; then
  echo "ERROR (run.sh): run.sh:0: unexpected argument '$1'; options only (see --help)" >&2
  exit 1
fi
. utils/lib/check_opts.sh
check_stages 0 7
check_int nj 1 1024
check_int nproc 1 1024
check_int aug_rounds 1 1000
check_int seed 0
check_number crop_sec
check_probs p_target
[ -z "$t_star" ] || check_int t_star 0 100000
case $device in cpu|cuda|cuda:[0-9]*) ;;
  *) _opt_die "--device must be cpu, cuda or cuda:N, got '$device'" ;; esac
for b in allow_random_backbone fresh_crops materialise; do
  case ${!b} in true|false) ;;
    *) _opt_die "--${b//_/-} must be true or false, got '${!b}'" ;; esac
done
case $mini_size in
  default) corpus_opts=(); size_train_opts="" ;;
  tiny) corpus_opts=(--num-train-speakers 12 --train-utts-per-speaker 6 --num-eval-speakers 12
          --eval-utts-per-speaker 6 --num-babble-speakers 6 --babble-utts-per-speaker 3
          --babble-talkers 2,3 --trials-per-set 200 --noises-per-kind 2 --eval-noises-per-kind 2
          --music-per-kind 2 --eval-music-per-kind 2 --rooms-per-type 1 --eval-rooms-per-type 1
          --rirs-per-room 2 --min-dur 2 --max-dur 4)
        size_train_opts="--epochs 12" ;;
  *) echo "ERROR (run.sh): run.sh:0: unknown --mini-size '$mini_size'; use default or tiny" >&2
     exit 1 ;;
esac
for f in "$backbone_conf" "$seed_conf" "$regression_conf"; do
  [ -f "$f" ] || { echo "ERROR (run.sh): $f:0: conf file not found; give an existing file" >&2
                   exit 1; }
done
# the SEED confs' keys and values now, not at stage 5 after the corpus and embeddings are made
check_seed_conf "$seed_conf"
check_seed_conf "$regression_conf"

# Jobs go through cmd.sh's runner; the wrapper shows their progress (their output is in logs).
cmd="local/show_progress.sh $train_cmd"
# threads_per_job N: this machine's cores shared by N parallel processes (at least 1). More
# threads than cores makes OpenMP spin-wait: torch training ran 10x slower with 2 x 2 threads.
threads_per_job() {
  local t=$(( $(machine_cores) / $1 ))
  [ "$t" -ge 1 ] || t=1
  echo "$t"
}

# The backbone: say now, not after the corpus is made, if its weights are missing.
backbone=$(basename "$backbone_conf" .yaml)
weights=$(local/check_backbone.py "$backbone_conf" "$allow_random_backbone")
extract_opts=()
if [ "$weights" = random ]; then
  backbone=${backbone}_random
  extract_opts=(--allow-random-weights true)
fi
bdir=exp/$backbone
seed_name=$(basename "$seed_conf" .yaml)
reg_name=$(basename "$regression_conf" .yaml)
t_recipe=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  stage_begin 0 "synthesise the mini corpus ($mini_size)"
  sig=$(signature make-mini-corpus "$seed" "${corpus_opts[@]}")
  if up_to_date "$corpus/.done" "$sig" "$corpus/corpus.json"; then
    log "$corpus/ is up to date; skipping"
  else
    seedkit-make-mini-corpus --force --seed "$seed" "${corpus_opts[@]}" "$corpus"
    mark_done "$corpus/.done" "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  stage_begin 1 "lhotse manifests -> Kaldi data dirs"
  sig=$(signature prepare "$corpus/.done" "$corpus/corpus.json")
  if up_to_date data/local/.done "$sig" data/local/train/wav.scp; then
    log "data/local/ is up to date; skipping"
  else
    rm -rf data/local data/manifests
    seedkit-prepare-mini-corpus --manifests data/manifests "$corpus" data/local
    mark_done data/local/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  stage_begin 2 "16 kHz mono wav ($nj jobs)"
  for x in train musan rirs $eval_sets; do
    sig=$(signature resample 16000 data/local/.done)
    if up_to_date "data/$x/.done" "$sig" "data/$x/wav.scp"; then
      log "data/$x is up to date; skipping"
      continue
    fi
    utils/resample_data_dir.sh --cmd "$cmd" --nj "$nj" --sample-rate 16000 \
      "data/local/$x" "data/$x" "exp/resample/$x"
    mark_done "data/$x/.done" "$sig"
  done
  # Every eval utterance once (eval_snr* repeat eval_clean's clean utterances): embeddings are
  # computed and enhanced once, and each eval set gets a view of them.
  sig=$(signature union $(for x in $eval_sets; do echo "data/$x/.done"; done))
  if ! up_to_date data/eval_all/.done "$sig" data/eval_all/wav.scp; then
    local/union_data_dirs.sh data/eval_all $(for x in $eval_sets; do echo "data/$x"; done)
    mark_done data/eval_all/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  stage_begin 3 "training pairs: $aug_rounds x {clean crop, music, noise, reverb}"
  sig=$(signature augment "$aug_rounds" "$crop_sec" "$seed" "$fresh_crops" "$materialise" \
    data/train/.done data/musan/.done data/rirs/.done)
  if up_to_date data/train_aug/.done "$sig" data/train_aug/utt2clean data/train_crops/wav.scp; then
    log "data/train_crops and data/train_aug are up to date; skipping"
  else
    rm -rf data/train_crops data/train_aug
    utils/augment_data_dir.sh --cmd "$cmd" --nj "$nj" --rounds "$aug_rounds" \
      --crop-sec "$crop_sec" --seed "$seed" --musan data/musan --rirs data/rirs \
      --fresh-crops "$fresh_crops" --materialise "$materialise" \
      data/train data/train_crops data/train_aug
    mark_done data/train_aug/.done "$sig"
  fi
  stage_end
fi

# view SRC_SCP KEYS_FILE OUT_SCP: the lines of SRC_SCP whose key is the first field of KEYS_FILE.
view() {
  mkdir -p "$(dirname "$3")"
  awk 'NR == FNR { keep[$1]; next } $1 in keep' "$2" "$1" > "$3.tmp"
  if [ "$(wc -l < "$3.tmp")" -ne "$(wc -l < "$2")" ]; then
    echo "ERROR (run.sh): $1:0: lacks keys of $2; rerun the stage that wrote $1" >&2
    exit 1
  fi
  mv "$3.tmp" "$3"
}

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  stage_begin 4 "backbone embeddings ($backbone, $weights weights)"
  # train_aug holds the clean crops too (its utt2clean pairs each crop with itself)
  for x in train_aug eval_all; do
    case $x in train_aug) crop=full ;; *) crop=$eval_crop ;; esac
    dir=$bdir/xvectors/$x
    sig=$(signature extract "$backbone_conf" "$weights" "$crop" "$seed" "data/$x/.done")
    if up_to_date "$dir/.done" "$sig" "$dir/xvector.scp"; then
      log "$dir is up to date; skipping"
      continue
    fi
    threads=$(threads_per_job "$nj")
    OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    utils/extract_embeddings.sh --cmd "$cmd" --nj "$nj" --num-threads "$threads" \
      --config "$backbone_conf" "${extract_opts[@]}" --crop "$crop" --seed "$seed" \
      --device "$device" "data/$x" "$dir"
    mark_done "$dir/.done" "$sig"
  done
  view "$bdir/xvectors/train_aug/xvector.scp" data/train_crops/utt2spk \
    "$bdir/xvectors/train_crops/xvector.scp"
  for x in $eval_sets; do
    view "$bdir/xvectors/eval_all/xvector.scp" "data/$x/utt2spk" "$bdir/xvectors/$x/xvector.scp"
  done
  stage_end
fi

# ---------------------------------------------------------------------------------------------
# train_one CONF DIR: SEED training (or the regression baseline: the same trainer, another conf).
# Done when DIR/.done matches the inputs (conf, options, embeddings); a run interrupted with the
# same inputs resumes from its latest checkpoint; changed inputs retrain from scratch.
train_one() {
  local conf=$1 dir=$2 sig resume=()
  sig=$(signature train "$conf" "$nproc" "$size_train_opts $train_opts" "$seed" \
    "$bdir/xvectors/train_aug/.done" \
    data/train_aug/utt2clean)
  if up_to_date "$dir/.done" "$sig" "$dir/final.pt"; then
    log "$dir is up to date; skipping"
    return 0
  fi
  if [ "$(cat "$dir/.inputs" 2>/dev/null)" = "$sig" ] && [ -d "$dir/checkpoints" ]; then
    log "$dir: continuing the interrupted run (--resume)"
    resume=(--resume)
  else
    [ -d "$dir" ] && log "$dir: conf or inputs changed; training from scratch"
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "$sig" > "$dir/.inputs"
  fi
  # torchrun starts its workers in sessions of their own: if torchrun is killed (SIGKILL), they
  # would train on as orphans beside a resumed run. setpriv makes each die with torchrun.
  local launch=("$(command -v seedkit-train-seed)")
  command -v setpriv >/dev/null 2>&1 && launch=(setpriv --pdeathsig KILL -- "${launch[@]}")
  local threads runner=$cmd
  threads=$(threads_per_job "$nproc")
  # local: torchrun runs in run.sh's process group, so a killed run.sh (even SIGKILL) stops it
  [ "$cmd_backend" = local ] && runner="local/show_progress.sh --direct"
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads $runner "$dir/log/torchrun.log" \
    torchrun --standalone --nproc_per_node="$nproc" --no-python "${launch[@]}" \
      --config "$conf" "${resume[@]}" --seed "$seed" --device "$device" $size_train_opts $train_opts \
      --clean "scp:$bdir/xvectors/train_crops/xvector.scp" \
      --noisy "scp:$bdir/xvectors/train_aug/xvector.scp" \
      --pairs data/train_aug/utt2clean "$dir" \
    || { tail -n 5 "$dir/log/torchrun.log" >&2; exit 1; }
  grep -h 'final.pt\|pairs/s' "$dir/log/train.log" | tail -n 2 >&2 || true
  mark_done "$dir/.done" "$sig"
}

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  stage_begin 5 "training: SEED ($seed_name) and regression baseline ($reg_name), $nproc processes"
  train_one "$seed_conf" "$bdir/$seed_name"
  train_one "$regression_conf" "$bdir/$reg_name"
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  stage_begin 6 "enhancement of the eval sets"
  opts=(--seed "$seed" --device "$device")
  [ -n "$t_star" ] && opts+=(--t-star "$t_star")
  for name in "$seed_name" "$reg_name"; do
    dir=$bdir/$name/xvectors/eval_all
    sig=$(signature enhance "${opts[@]}" "$bdir/$name/final.pt" "$bdir/xvectors/eval_all/.done")
    if up_to_date "$dir/.done" "$sig" "$dir/xvector.scp"; then
      log "$dir is up to date; skipping"
    else
      $cmd "$dir/log/enhance.log" seedkit-enhance "${opts[@]}" "$bdir/$name/final.pt" \
        "scp:$bdir/xvectors/eval_all/xvector.scp" "ark,scp:$dir/xvector.ark,$dir/xvector.scp" \
        || { tail -n 3 "$dir/log/enhance.log" >&2; exit 1; }
      mark_done "$dir/.done" "$sig"
    fi
    for x in $eval_sets; do
      view "$dir/xvector.scp" "data/$x/utt2spk" "$bdir/$name/xvectors/$x/xvector.scp"
    done
  done
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_begin 7 "scoring ($score_method): baseline, $reg_name, $seed_name"
  sdir=$bdir/scores
  for system in baseline "$reg_name" "$seed_name"; do
    if [ "$system" = baseline ]; then emb=$bdir/xvectors; else emb=$bdir/$system/xvectors; fi
    for x in $eval_sets; do
      out=$sdir/$system/$x
      sig=$(signature score "$score_method" "$p_target" "data/$x/trials" "$emb/eval_all/.done")
      if up_to_date "$out/.done" "$sig" "$out/metrics.json"; then
        continue
      fi
      mkdir -p "$out"
      seedkit-score --method "$score_method" "data/$x/trials" "scp:$emb/$x/xvector.scp" \
        "scp:$emb/$x/xvector.scp" "$out/scores"
      echo -n "$system $x: " >&2
      seedkit-metrics --p-target "$p_target" --json "$out/metrics.json" "$out/scores" \
        "data/$x/trials" >&2
      mark_done "$out/.done" "$sig"
    done
  done
  for x in $eval_sets; do
    sig=$(signature det $(for s in baseline "$reg_name" "$seed_name"; do
      echo "$sdir/$s/$x/.done"; done))
    if ! up_to_date "$sdir/det/.$x.done" "$sig" "$sdir/det/$x.png"; then
      mkdir -p "$sdir/det"
      seedkit-plot-det --title "$x ($backbone)" --labels "baseline,regression,SEED" \
        --trials "data/$x/trials" "$sdir/baseline/$x/scores" "$sdir/$reg_name/$x/scores" \
        "$sdir/$seed_name/$x/scores" "$sdir/det/$x.png"
      mark_done "$sdir/det/.$x.done" "$sig"
    fi
  done
  # rows in eval-set order; SEED and regression named as such (their confs are in the title)
  table_args=()
  for x in $eval_sets; do
    table_args+=("baseline:$x=$sdir/baseline/$x/metrics.json"
                 "regression:$x=$sdir/$reg_name/$x/metrics.json"
                 "SEED:$x=$sdir/$seed_name/$x/metrics.json")
  done
  seedkit-results-table --baseline baseline --p-target "$p_target" --out "$sdir/RESULTS.md" \
    --title "mini recipe ($mini_size): $backbone backbone, SEED = $seed_conf, regression = $regression_conf" \
    "${table_args[@]}"
  cp "$sdir/RESULTS.md" RESULTS.md
  log "DET plots: $sdir/det/<set>.png; table: RESULTS.md (and $sdir/RESULTS.md)"
  cat RESULTS.md
  stage_end
fi

total=$(echo "$(date +%s.%N) $t_recipe" | awk '{printf "%.1f", $1 - $2}')
printf '%s' "$stage_times" >&2
log "stages $stage-$stop_stage done in ${total} s"
