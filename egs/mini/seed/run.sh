#!/usr/bin/env bash
# The embedded mini recipe: the whole SEED pipeline (corpus -> data dirs -> 16 kHz -> augmentation
# -> backbone embeddings -> SEED training -> enhancement -> scoring) on a synthesised corpus, on two
# CPU cores, in minutes. Same seedkit commands as egs/voxceleb/seed/run.sh.
#
#   ./run.sh                          # everything (stages 0-7); a re-run skips finished work
#   ./run.sh --stage 5                # from SEED training on (e.g. after editing conf/seed_*.yaml)
#   ./run.sh --mini-size tiny         # a reduced corpus (the tests use it)
#   ./run.sh --backbone-conf conf/ecapa_tdnn.yaml --allow-random-backbone true
#
# Outputs (inside this directory): corpus/ (synthesised audio), data/<set>/ (Kaldi data dirs),
# exp/ (embeddings, models, scores, logs), RESULTS.md. See docs/mini_recipe.md.

. ./path.sh || exit 1

stage=0
stop_stage=7
seed=777                        # one seed for every stochastic step
mini_size=default               # default | tiny (corpus size and training length)
corpus=corpus                   # where stage 0 writes the synthetic corpus
nj=2                            # parallel jobs for resampling and extraction
nproc=2                         # torchrun processes for SEED training (CPU, gloo)
aug_rounds=2                    # K: rounds of {music, noise, reverb} copies per clean crop
crop_sec=2.015                  # length of the training crops (SEED: 200 frames + 240 samples)
backbone_conf=conf/ge2e.yaml    # frozen speaker model; conf/ecapa_tdnn.yaml swaps it
allow_random_backbone=false     # run a backbone without its checkpoint (random weights)
seed_conf=conf/seed_rdm_mlp3.yaml          # SEED diffusion model
regression_conf=conf/seed_regression.yaml  # the same network trained by direct regression
eval_sets="eval_clean eval_mix eval_snr0 eval_snr5 eval_snr10 eval_snr15"
eval_crop=full                  # embedding of eval utterances: full | multi:N:SEC
score_method=cosine             # seedkit-score --method (cosine; seed for multi-crop matrices)
t_star=50                       # SEED inference timestep
p_target=0.01,0.05

help_message="Usage: $0 [options]
Runs the mini SEED recipe; stages ($stage..$stop_stage by default):
  0 synthesise the corpus          ($corpus/)
  1 manifests -> Kaldi data dirs   (data/local/<set>/, data/manifests/)
  2 resample to 16 kHz             (data/<set>/)
  3 augmentation                   (data/train_crops/, data/train_aug/ + utt2clean)
  4 backbone embeddings            (exp/<backbone>/xvectors/<set>/xvector.scp)
  5 SEED + regression training     (exp/<backbone>/<seed-conf>/final.pt)
  6 enhancement of the eval sets   (exp/<backbone>/<seed-conf>/xvectors/<set>/xvector.scp)
  7 scoring                        (exp/<backbone>/scores/, RESULTS.md)
Options (defaults in brackets):
  --stage N / --stop-stage N       first / last stage to run [$stage / $stop_stage]
  --mini-size default|tiny         corpus size and training length [$mini_size]
  --seed S                         seed of every stochastic step [$seed]
  --nj N                           parallel jobs [$nj]
  --nproc N                        torchrun processes for SEED training [$nproc]
  --aug-rounds K                   augmentation rounds per clean crop [$aug_rounds]
  --backbone-conf FILE             backbone conf [$backbone_conf]
  --allow-random-backbone BOOL     run a backbone with random weights if its checkpoint is missing [$allow_random_backbone]
  --seed-conf FILE                 SEED conf [$seed_conf]
  --regression-conf FILE           regression-baseline conf [$regression_conf]
  --t-star T                       SEED inference timestep [$t_star]
  --eval-crop MODE                 full | multi:N:SEC [$eval_crop]
  --score-method M                 seedkit-score method [$score_method]
A finished stage is skipped on a re-run; a stage whose inputs or conf changed is redone."

. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. local/lib.sh

case $mini_size in
  default) corpus_opts=""; train_opts="" ;;
  tiny) corpus_opts="--size tiny"; train_opts="" ;;
  *) echo "ERROR (run.sh): run.sh:1: unknown --mini-size '$mini_size'; use default or tiny" >&2
     exit 1 ;;
esac

for f in "$backbone_conf" "$seed_conf" "$regression_conf"; do
  [ -f "$f" ] || { echo "ERROR (run.sh): $f:0: conf file not found; give an existing file" >&2; exit 1; }
done

backbone=$(basename "$backbone_conf" .yaml)
bdir=exp/$backbone
train_sets="train musan rirs"
all_sets="$train_sets $eval_sets"

t_recipe=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  stage_begin 0 "synthesise the mini corpus"
  sig=$(signature make-mini-corpus "$seed" "$corpus_opts")
  if up_to_date "$corpus/.done" "$sig" "$corpus/corpus.json"; then
    log "corpus $corpus/ is up to date; skipping"
  else
    [ -f "$corpus/corpus.json" ] && rm -rf "$corpus"
    seedkit-make-mini-corpus --seed "$seed" $corpus_opts "$corpus"
    mark_done "$corpus/.done" "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  stage_begin 1 "lhotse manifests -> Kaldi data dirs"
  sig=$(signature prepare "$corpus/.done" "$corpus/corpus.json")
  if up_to_date data/local/.done "$sig" data/local/train/wav.scp; then
    log "data/local is up to date; skipping"
  else
    rm -rf data/local data/manifests
    seedkit-prepare-mini-corpus --manifests data/manifests "$corpus" data/local
    mark_done data/local/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  stage_begin 2 "resample to 16 kHz mono wav ($nj jobs)"
  for x in $all_sets; do
    sig=$(signature resample 16000 data/local/.done)
    if up_to_date "data/$x/.done" "$sig" "data/$x/wav.scp"; then
      log "data/$x is up to date; skipping"
      continue
    fi
    rm -rf "data/$x"
    utils/resample_data_dir.sh --cmd "$train_cmd" --nj "$nj" --rate 16000 \
      "data/local/$x" "data/$x" "exp/resample/$x"
    mark_done "data/$x/.done" "$sig"
  done
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  stage_begin 3 "augmentation: $aug_rounds rounds of music/noise/reverb per clean crop"
  sig=$(signature augment "$aug_rounds" "$crop_sec" "$seed" data/train/.done data/musan/.done \
    data/rirs/.done)
  if up_to_date data/train_aug/.done "$sig" data/train_aug/utt2clean data/train_crops/wav.scp; then
    log "data/train_crops and data/train_aug are up to date; skipping"
  else
    rm -rf data/train_crops data/train_aug
    seedkit-augment-data-dir --rounds "$aug_rounds" --crop-sec "$crop_sec" --seed "$seed" \
      --musan data/musan --rirs data/rirs data/train data/train_crops data/train_aug
    mark_done data/train_aug/.done "$sig"
  fi
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  stage_begin 4 "backbone embeddings ($backbone)"
  local/check_backbone.sh --allow-random "$allow_random_backbone" "$backbone_conf"
  for x in train_crops train_aug $eval_sets; do
    case $x in train_*) crop=full ;; *) crop=$eval_crop ;; esac
    dir=$bdir/xvectors/$x
    sig=$(signature extract "$backbone_conf" "$crop" "$seed" "data/$x/.done" data/train_aug/.done)
    if up_to_date "$dir/.done" "$sig" "$dir/xvector.scp"; then
      log "$dir is up to date; skipping"
      continue
    fi
    rm -f "$dir/xvector.scp"
    utils/extract_embeddings.sh --cmd "$train_cmd" --nj "$nj" --config "$backbone_conf" \
      --crop "$crop" "data/$x" "$dir"
    mark_done "$dir/.done" "$sig"
  done
  stage_end
fi

# ---------------------------------------------------------------------------------------------
# SEED training; the regression baseline is the same trainer with another conf. An exp dir is
# named after its conf; a changed conf (or changed embeddings) retrains from scratch, an
# interrupted run (checkpoints, same conf) resumes.
train_one() {
  local conf=$1 dir=$2 sig
  sig=$(signature train "$conf" "$nproc" "$train_opts" "$bdir/xvectors/train_crops/.done" \
    "$bdir/xvectors/train_aug/.done")
  if up_to_date "$dir/.done" "$sig" "$dir/final.pt"; then
    log "$dir is up to date; skipping"
    return 0
  fi
  local resume=""
  if [ -f "$dir/.inputs" ] && [ "$(cat "$dir/.inputs")" = "$sig" ] \
      && [ -n "$(ls -A "$dir/checkpoints" 2>/dev/null)" ]; then
    log "resuming $dir from its latest checkpoint"
    resume=--resume
  else
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "$sig" > "$dir/.inputs"
  fi
  # pairs: every augmented copy with its clean crop, and every clean crop with itself
  awk '{print $1, $1}' data/train_crops/utt2spk | cat - data/train_aug/utt2clean | sort > "$dir/pairs"
  log "training $dir with torchrun ($nproc processes); log: $dir/log/train.log"
  mkdir -p "$dir/log"
  torchrun --standalone --nproc_per_node="$nproc" -m seedkit.bin.train_seed $resume \
    --config "$conf" $train_opts \
    --clean "scp:$bdir/xvectors/train_crops/xvector.scp" \
    --noisy "scp:$bdir/xvectors/train_aug/xvector.scp" \
    --pairs "$dir/pairs" "$dir" 2>&1 | tee "$dir/log/torchrun.log"
  mark_done "$dir/.done" "$sig"
}

seed_name=$(basename "$seed_conf" .yaml)
reg_name=$(basename "$regression_conf" .yaml)
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  stage_begin 5 "SEED training ($seed_name) and regression baseline ($reg_name)"
  train_one "$seed_conf" "$bdir/$seed_name"
  train_one "$regression_conf" "$bdir/$reg_name"
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  stage_begin 6 "enhancement of the eval sets"
  for name in "$seed_name" "$reg_name"; do
    for x in $eval_sets; do
      dir=$bdir/$name/xvectors/$x
      sig=$(signature enhance "$t_star" "$seed" "$bdir/$name/.done" "$bdir/xvectors/$x/.done")
      if up_to_date "$dir/.done" "$sig" "$dir/xvector.scp"; then
        log "$dir is up to date; skipping"
        continue
      fi
      mkdir -p "$dir"
      seedkit-enhance --seed "$seed" --t-star "$t_star" "$bdir/$name/final.pt" \
        "scp:$bdir/xvectors/$x/xvector.scp" "ark,scp:$dir/xvector.ark,$dir/xvector.scp"
      mark_done "$dir/.done" "$sig"
    done
  done
  stage_end
fi

# ---------------------------------------------------------------------------------------------
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_begin 7 "scoring"
  sdir=$bdir/scores
  metrics=()
  for system in baseline "$reg_name" "$seed_name"; do
    case $system in
      baseline) emb=$bdir/xvectors ;;
      *) emb=$bdir/$system/xvectors ;;
    esac
    for x in $eval_sets; do
      out=$sdir/$system/$x
      sig=$(signature score "$score_method" "$p_target" "data/$x/trials" "$emb/$x/.done")
      if ! up_to_date "$out/.done" "$sig" "$out/metrics.json"; then
        mkdir -p "$out"
        seedkit-score --method "$score_method" "data/$x/trials" "scp:$emb/$x/xvector.scp" \
          "scp:$emb/$x/xvector.scp" "$out/scores"
        seedkit-metrics --p-target "$p_target" --json "$out/metrics.json" "$out/scores" \
          "data/$x/trials"
        mark_done "$out/.done" "$sig"
      fi
      metrics+=("$out/metrics.json")
    done
  done
  seedkit-plot-det --out "$sdir/det" $(for x in $eval_sets; do
    echo "$sdir/baseline/$x/scores:data/$x/trials:baseline $x"; done)
  seedkit-results-table --baseline baseline "${metrics[@]}" > RESULTS.md
  cat RESULTS.md
  stage_end
fi

total=$(echo "$(date +%s.%N) $t_recipe" | awk '{printf "%.1f", $1 - $2}')
printf '%s' "$stage_times" >&2
log "done in ${total} s"
