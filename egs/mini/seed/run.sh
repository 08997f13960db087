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
# Outputs: corpus/, data/<set>/, exp/ (audio, embeddings, models, scores, logs), RESULTS.md.

. ./path.sh || exit 1

stage=0                         # first stage to run
stop_stage=7                    # last stage to run
seed=777                        # seed of every stochastic step (corpus, crops, training, noise)
mini_size=default               # default | tiny: corpus size (tiny: for tests)
corpus=corpus                   # stage 0 writes the synthetic corpus here
nj=2                            # parallel jobs (resampling, augmentation, extraction)
nproc=1                         # torchrun processes per model (both train at once; gloo ranks on 2 cores train 1.6x slower)
device=cpu                      # extraction, training and enhancement device (cpu | cuda)
aug_rounds=1                    # K: rounds of a clean crop + {music, noise, reverb} copies (docs/training_pairs.md)
fresh_crops=true                # true: a fresh crop per round; false: every round corrupts one crop
augment_conf=                   # augmentation policy of stage 3 ("" = conf/augment_release.yaml, the SEED release's; docs/training_pairs.md)
materialise=false               # false: stage 3 writes pair specs, stage 4 renders them; true: wavs
crop_sec=2.015                  # training crop length (SEED: 200 frames + 240 samples)
backbone_conf=conf/ge2e.yaml    # frozen speaker model; conf/ecapa_tdnn.yaml swaps it
allow_random_backbone=false     # true: a backbone without its checkpoint runs on random weights
seed_conf=conf/seed_rdm_mlp3.yaml          # SEED diffusion model and training
regression_conf=conf/seed_regression.yaml  # the same network trained by direct regression
train_opts=                     # extra seedkit-train-seed options for both, e.g. "--epochs 10"
eval_sets="eval_clean eval_mix eval_snr0 eval_snr5 eval_snr10 eval_snr15"  # eval sets to score
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

$(. utils/lib/option_help.sh && option_help "$0")"

. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. utils/lib/recipe.sh
. local/check_options.sh  # every option checked, the names the stages use derived
lock_workdir exp  # one run per recipe directory (a second run.sh ends at once naming this one)
t_recipe=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  stage_begin 0 "synthesise the mini corpus ($mini_size)"
  sig=$(key_of make-mini-corpus "$seed" "${corpus_opts[@]}")
  if is_done "$corpus/.done" "$sig" "$corpus/corpus.json"; then
    skip "$corpus/"
  else
    seedkit-make-mini-corpus --force --seed "$seed" "${corpus_opts[@]}" "$corpus"
    mark_done "$corpus/.done" "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  stage_begin 1 "lhotse manifests -> Kaldi data dirs"
  sig=$(key_of prepare "$corpus/.done" "$corpus/corpus.json")
  if is_done data/local/.done "$sig" data/local/train/wav.scp; then
    skip "data/local/"
  else
    rm -rf data/local data/manifests
    seedkit-prepare-mini-corpus --manifests data/manifests "$corpus" data/local
    mark_done data/local/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  stage_begin 2 "16 kHz mono wav (all sets at once, $nj jobs each)"
  resample_set() {
    local sig
    sig=$(key_of resample 16000 data/local/.done)
    if is_done "data/$1/.done" "$sig" "data/$1/wav.scp"; then skip "data/$1"; return 0; fi
    utils/resample_data_dir.sh --cmd "$cmd" --nj "$nj" --sample-rate 16000 \
      "data/local/$1" "data/$1" "exp/resample/$1"
    mark_done "data/$1/.done" "$sig"
  }
  # shellcheck disable=SC2086
  in_parallel --buffer exp/resample resample_set train musan rirs $eval_sets  # 1 s of work each
  # Every eval utterance once (eval_snr* repeat eval_clean's clean utterances): embeddings are
  # computed and enhanced once, and each eval set gets a view of them.
  sig=$(key_of union $(for x in $eval_sets; do echo "data/$x/.done"; done))
  if ! is_done data/eval_all/.done "$sig" data/eval_all/wav.scp; then
    utils/combine_data.sh --allow-repeated-keys true data/eval_all $(for x in $eval_sets; do echo "data/$x"; done)
    mark_done data/eval_all/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  stage_begin 3 "training pairs: $aug_rounds x {clean crop, music, noise, reverb}"
  augment_policy "$augment_conf"  # sets policy (the release's when empty)
  sig=$(key_of augment "$aug_rounds" "$crop_sec" "$seed" "$fresh_crops" "$materialise" \
    data/train/.done data/musan/.done data/rirs/.done \
    ${augment_conf:+"$augment_conf" "$(cksum < "$augment_conf")"})
  if is_done data/train_aug/.done "$sig" data/train_aug/utt2clean data/train_crops/wav.scp; then
    skip "data/train_crops and data/train_aug"
  else
    rm -rf data/train_crops data/train_aug
    utils/augment_data_dir.sh --cmd "$cmd" --nj "$nj" --rounds "$aug_rounds" \
      --crop-sec "$crop_sec" --seed "$seed" --musan data/musan --rirs data/rirs \
      --fresh-crops "$fresh_crops" --materialise "$materialise" "${policy[@]}" \
      data/train data/train_crops data/train_aug
    mark_done data/train_aug/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  stage_begin 4 "backbone embeddings ($backbone, $weights weights)"
  # train_aug holds the clean crops too (its utt2clean pairs each crop with itself)
  for x in train_aug eval_all; do
    case $x in train_aug) crop=full ;; *) crop=$eval_crop ;; esac
    dir=$bdir/xvectors/$x
    sig=$(key_of extract "$backbone_conf" "$weights" "$crop" "$seed" "data/$x/.done")
    if is_done "$dir/.done" "$sig" "$dir/xvector.scp"; then skip "$dir"; continue; fi
    threads=$(job_threads "$nj")
    OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    utils/extract_embeddings.sh --cmd "$cmd" --nj "$nj" --num-threads "$threads" \
      --config "$backbone_conf" "${extract_opts[@]}" --crop "$crop" --seed "$seed" \
      --device "$device" "data/$x" "$dir"
    mark_done "$dir/.done" "$sig"
  done
  subset_scp data/train_crops/utt2spk "$bdir/xvectors/train_aug/xvector.scp" \
    "$bdir/xvectors/train_crops/xvector.scp"
  for x in $eval_sets; do
    subset_scp "data/$x/utt2spk" "$bdir/xvectors/eval_all/xvector.scp" "$bdir/xvectors/$x/xvector.scp"
  done
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  stage_begin 5 "training: SEED ($seed_name) and regression baseline ($reg_name) at once, $nproc process(es) each"
  train_model() {
    local/train.sh --concurrent 2 --nproc "$nproc" --seed "$seed" --device "$device" \
      --bdir "$bdir" --train-opts "$size_train_opts $train_opts" "$1" "$bdir/$(basename "$1" .yaml)"
  }
  # both at once, one thread each: 48 s on 2 cores, against 59 s one after the other with 2 threads
  in_parallel train_model "$seed_conf" "$regression_conf"
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  stage_begin 6 "enhancement of the eval sets"
  opts=(--seed "$seed" --device "$device")
  [ -n "$t_star" ] && opts+=(--t-star "$t_star")
  enhance_model() {
    local name=$1 dir=$bdir/$1/xvectors/eval_all sig threads x
    sig=$(key_of enhance "${opts[@]}" "$bdir/$name/final.pt" "$bdir/xvectors/eval_all/.done")
    if is_done "$dir/.done" "$sig" "$dir/xvector.scp"; then
      skip "$dir"
    else
      threads=$(job_threads 2)
      OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads run_job "$cmd" "$dir/log/enhance.log" \
        seedkit-enhance "${opts[@]}" "$bdir/$name/final.pt" \
        "scp:$bdir/xvectors/eval_all/xvector.scp" "ark,scp:$dir/xvector.ark,$dir/xvector.scp"
      mark_done "$dir/.done" "$sig"
    fi
    for x in $eval_sets; do
      subset_scp "data/$x/utt2spk" "$dir/xvector.scp" "$bdir/$name/xvectors/$x/xvector.scp"
    done
  }
  in_parallel enhance_model "$seed_name" "$reg_name"
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_begin 7 "scoring ($score_method): baseline, $reg_name, $seed_name"
  local/score.sh --bdir "$bdir" --seed-name "$seed_name" --reg-name "$reg_name" \
    --eval-sets "$eval_sets" --score-method "$score_method" --p-target "$p_target" \
    --title "mini recipe ($mini_size): $backbone backbone, SEED = $seed_conf, regression = $regression_conf"
  stage_end
fi

total=$(echo "$(date +%s.%N) $t_recipe" | awk '{printf "%.1f", $1 - $2}')
printf '%s' "$stage_summary" >&2
log "stages $stage-$stop_stage done in ${total} s"
