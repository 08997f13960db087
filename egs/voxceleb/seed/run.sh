#!/usr/bin/env bash
# SEED (speaker embedding enhancement diffusion) on VoxCeleb: the paper's setting.
#
# A frozen speaker model (ResNetSE34V2 or ECAPA-TDNN) embeds clean LibriTTS-R + Libri-Light speech
# and MUSAN/RIR-augmented copies of it; SEED learns to map the noisy embeddings to the clean ones;
# VoxCeleb1-O and VC-Mix are enhanced and scored, baseline vs SEED. See docs/voxceleb_recipe.md.
#   ./run.sh                                     # stages 0-7; a re-run skips finished work
#   ./run.sh --corpora-on-disk /export/corpora   # corpora already on disk: nothing is downloaded
#   ./run.sh --stage 4 --backbone-conf conf/ecapa_tdnn.yaml \
#       --backbone-checkpoint pretrained/official_ecapatdnn.model --seed-conf conf/seed_ecapa.yaml
#   SEEDKIT_CMD=slurm ./run.sh --stage 2         # jobs on Slurm (cmd.sh)

. ./path.sh || exit 1

# ---- options: every variable below is an option (--name-with-dashes VALUE); see --help ----------
stage=0                          # first stage to run
stop_stage=7                     # last stage to run
# where things go
corpora=corpora                  # stage 0 downloads (or links) the corpora here
data=data                        # Kaldi data dirs, trial lists, resampled and augmented audio
exp=exp                          # embeddings, SEED models, scores, logs
results=RESULTS.md               # copy of the results table ("" = only $exp/<backbone>/RESULTS.md)
# stage 0: corpora
corpora_on_disk=                 # dir holding voxceleb1/ musan/ RIRS_NOISES/ LibriTTS_R/ librilight/ voxconverse_test_SV/: link them, download nothing
voxceleb1_on_disk=               # VoxCeleb1 (wav/, vox1_meta.csv, veri_test2.txt) already on disk
musan_on_disk=                   # MUSAN (raw layout music/ noise/ speech/) already on disk
rirs_noises_on_disk=             # RIRS_NOISES (simulated_rirs/...) already on disk
librittsr_on_disk=               # LibriTTS_R (train-clean-100/ train-clean-360/) already on disk
librilight_on_disk=              # Libri-Light (small/) already on disk
voxconverse_sv_on_disk=          # VoxConverse test SV (trials_wo_overlap.txt + wavs) already on disk
librittsr_parts="train-clean-100 train-clean-360"  # LibriTTS-R parts to download and train on
librilight_url=                  # mirror of Libri-Light small.tar ("" = the official URL)
librilight_md5=                  # md5 of that mirror's small.tar ("" = the official md5)
vox1_trials=                     # VoxCeleb1-O list ("" = <voxceleb1>/veri_test2.txt, the cleaned 37,611 trials)
voxsrc23_trials=                 # optional third test set: a VoxSRC-23 list '<1|0> <path> <path>' ("" = none)
voxsrc23_root=                   # where the VoxSRC-23 list's paths lie ("" = <corpora>/voxceleb1/wav)
# stages 1-3: data
train_corpora="librittsr librilight"  # clean speech SEED trains on (librittsr and/or librilight)
librilight_segments=false        # true: one Libri-Light utterance per voice-activity segment
materialise_16k=false            # false: stage 2 reads 16 kHz files where they lie and resamples others in memory; true: 16 kHz wav copies of every corpus
corpus_rates=conf/corpus_rates.yaml  # each corpus's sample rate (stage 2 refuses a file at another rate)
test_sets="vox1_o vcmix"         # evaluation trial lists: vox1_o (VoxCeleb1-O cleaned) and/or vcmix
nj=8                             # parallel jobs for preparation, resampling and augmentation
aug_rounds=1                     # K: rounds of a clean crop + {music, noise, reverb} copies of it per utterance
fresh_crops=true                 # true: every round draws its own crop; false: all rounds corrupt one crop
augment_conf=                    # augmentation policy of stage 3 ("" = conf/augment_release.yaml, the SEED release's; docs/training_pairs.md)
materialise=false                # false: stage 3 writes pair specs (KB), stage 4 renders them; true: wav files
crop_sec=2.015                   # training crop length (SEED: 200 frames + 240 samples = 32,240)
seed=0                           # seed of every stochastic step (crops, augmentation, training, enhancement)
  # with a release SEED checkpoint (*_evalseed_N.model) the enhancement seed is N unless --seed is given
# stage 4: backbone embeddings
backbone_conf=conf/resnetse34v2.yaml  # frozen speaker model conf (conf/ecapa_tdnn.yaml: ECAPA-TDNN)
backbone_checkpoint=             # weights file ("" = the conf's checkpoint, e.g. pretrained/official_resnetse34V2.model)
backbone_tag=                    # name of the exp sub-dir ("" = the conf's file name without .yaml)
allow_random_backbone=false      # true: run without a checkpoint on random weights (tests only)
extract_nj=4                     # parallel embedding jobs
eval_crops=10                    # SEED protocol: crops per evaluation utterance
eval_crop_sec=4.015              # SEED protocol: crop length (400 frames + 240 samples)
device=auto                      # auto | cpu | cuda (extraction, training, enhancement)
# stage 5: SEED training
seed_conf=conf/seed_rdm_mlp3.yaml  # SEED diffusion conf (network, schedule, optimiser, epochs)
seed_checkpoint=                 # official SEED diffusion weights: skip training, enhance with these
  # "release": pretrained/resnet34V2_SEED_evalseed_2690.model (ResNetSE34V2) or
  # pretrained/ecapa_SEED_evalseed_898.model (ECAPA_TDNN), by the backbone conf's model
eval_only=auto                   # true: evaluation only (no training corpora, augmentation or training; needs --seed-checkpoint or a trained model); auto: true with --seed-checkpoint
seed_train_opts=                 # extra seedkit-train-seed options, e.g. "--epochs 50 --batch-size 600"
seed_dev_set=                    # "" or a test set (vox1_o, vcmix): its EER is logged every epoch
nproc_per_node=1                 # torchrun processes (GPUs) per node
nnodes=1                         # nodes; > 1 needs --rdzv-endpoint and run.sh --stage 5 on every node
rdzv_endpoint=                   # HOST:PORT of the torchrun rendezvous ("" with one node: standalone)
rdzv_id=seed                     # torchrun rendezvous id (the same on every node of one run)
rdzv_backend=c10d                # torchrun rendezvous backend
# stages 6-7: enhancement and scoring
t_star=50                        # SEED one-step enhancement timestep t*
p_target_seed=0.05               # minDCF prior of the SEED protocol (multi-crop, -mean L2 distance)
p_target_wespeaker=0.01          # minDCF prior of the wespeaker protocol (full utterance, cosine)

help_message="Usage: $0 [options]
SEED on VoxCeleb (docs/voxceleb_recipe.md). Stages (--stage N --stop-stage M; default 0..7):
  0 corpora: download (lhotse; Libri-Light small by URL + md5) or link copies on disk
    (--corpora-on-disk DIR, --<corpus>-on-disk DIR)                          -> \$corpora/
  1 lhotse manifests -> Kaldi data dirs; trial lists VoxCeleb1-O cleaned, VC-Mix -> \$data/trials/
  2 16 kHz audio: read in place, resampled in memory when read (--materialise-16k true: wav
    copies); train and eval sets                         -> \$data/<set>/, \$data/train, \$data/eval
  3 training pairs: --aug-rounds x {a --crop-sec clean crop, music, noise, reverb}, as specs
    that stage 4 renders (--materialise true: wav files) -> \$data/train_crops/, \$data/train_aug/
  4 backbone embeddings: training pairs, evaluation crops and full utterances
                                             -> \$exp/<backbone>/xvectors/<set>/xvector.scp
  5 SEED training with torchrun              -> \$exp/<backbone>/<seed-conf>/final.pt
  6 enhancement of the evaluation embeddings -> \$exp/<backbone>/<seed-conf>/xvectors/<set>/
  7 scoring, baseline vs SEED, SEED and wespeaker protocols; DET plots; RESULTS.md
                                             -> \$exp/<backbone>/scores/, \$results
Work that is complete (its .done stamp matches its inputs and options) is skipped on a re-run;
changed options or inputs redo it and everything after it.
Jobs run through cmd.sh: local (utils/run.pl) by default, Slurm with SEEDKIT_CMD=slurm.

$(. utils/lib/option_help.sh && option_help "$0")"

# was --seed given? (a release SEED checkpoint otherwise brings its own evaluation seed)
case " $* " in *" --seed "*|*" --seed="*) seed_given=true ;; *) seed_given=false ;; esac

. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. utils/lib/recipe.sh
. local/check_options.sh  # every option checked, the names the stages use derived
# one run per recipe directory (a second run.sh ends at once naming this one); with --nnodes > 1
# every node runs stage 5 here, so each host takes its own lock
lock_workdir "$exp" "$([ "$nnodes" -eq 1 ] && echo run || echo "run.$(hostname -s)")"

t_start=$(date +%s)
# ---- stages 0-2: corpora, Kaldi data dirs and trial lists, 16 kHz audio (local/prepare_data.sh) --
if [ "$stage" -le 2 ]; then
  opts=()
  for v in corpora data corpora_on_disk {voxceleb1,musan,rirs_noises,librittsr,librilight,voxconverse_sv}_on_disk \
      librittsr_parts librilight_url librilight_md5 vox1_trials voxsrc23_trials voxsrc23_root \
      train_corpora librilight_segments test_sets nj eval_only materialise_16k corpus_rates; do
    opts+=("--${v//_/-}" "${!v}")
  done
  local/prepare_data.sh --stage "$stage" --stop-stage "$(( stop_stage < 2 ? stop_stage : 2 ))" "${opts[@]}"
fi

# ---- stage 3: augmentation -----------------------------------------------------------------------
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ] && $eval_only; then
  log "=== stage 3: evaluation only: no training pairs to augment; skipping"
elif [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  stage_begin 3 "augmentation: $aug_rounds x {music, noise, reverb} per $crop_sec s crop"
  augment_policy "$augment_conf"  # sets policy (the release's when empty)
  key=$(key_of augment "$aug_rounds" "$crop_sec" "$seed" "$fresh_crops" "$materialise" \
    "$data/train/.done" "$data/musan/.done" "$data/rirs/.done" \
    ${augment_conf:+"$augment_conf" "$(cksum < "$augment_conf")"})
  if is_done "$data/train_aug/.done" "$key" "$data/train_aug/utt2clean" "$data/train_crops/wav.scp"; then
    skip "$data/train_aug"
  else
    rm -rf "$data/train_crops" "$data/train_aug"  # seeded content: never mix two settings
    local/pair_plan.py --rounds "$aug_rounds" --fresh-crops "$fresh_crops" \
      --materialise "$materialise" --crop-sec "$crop_sec" --backbone-conf "$backbone_conf" \
      "$data/train"
    threads=$(job_threads "$nj")
    OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    utils/augment_data_dir.sh --cmd "$train_cmd" --nj "$nj" --rounds "$aug_rounds" \
      --crop-sec "$crop_sec" --seed "$seed" --musan "$data/musan" --rirs "$data/rirs" \
      --fresh-crops "$fresh_crops" --materialise "$materialise" "${policy[@]}" \
      "$data/train" "$data/train_crops" "$data/train_aug"
    mark_done "$data/train_aug/.done" "$key"
  fi
  stage_end
fi

# ---- stage 4: backbone embeddings ----------------------------------------------------------------
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  stage_begin 4 "embeddings with $backbone_conf ($extract_nj jobs)"
  opts=(--config "$backbone_conf" --seed "$seed")
  [ -n "$backbone_checkpoint" ] && opts+=(--checkpoint "$backbone_checkpoint")
  [ "$device" != auto ] && opts+=(--device "$device")
  if $allow_random_backbone; then opts+=(--allow-random-weights true); fi
  # <embedding set>:<data dir>:<crop>. data/train_aug holds the clean crops too (the identity
  # pairs), so they are embedded once, there; train_crops is the clean subset of its scp.
  specs=("eval_multi:eval:multi:$eval_crops:$eval_crop_sec" "eval_full:eval:full")
  if ! $eval_only; then specs=("train_aug:train_aug:full" "${specs[@]}"); fi
  for spec in "${specs[@]}"; do
    IFS=: read -r name src crop <<< "$spec"
    dir=$bdir/xvectors/$name
    key=$(key_of extract "${opts[@]}" "$crop" "$backbone_conf" "$(file_id "$backbone_checkpoint")" \
      "$data/$src/.done")
    if is_done "$dir/.done" "$key" "$dir/xvector.scp"; then skip "$dir"; continue; fi
    threads=$(job_threads "$extract_nj")
    OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    utils/extract_embeddings.sh --cmd "$extract_cmd --gpu $gpu" --nj "$extract_nj" "${opts[@]}" \
      --num-threads "$threads" --crop "$crop" "$data/$src" "$dir"
    mark_done "$dir/.done" "$key"
  done
  dir=$bdir/xvectors/train_crops
  key=$(key_of clean-subset "$bdir/xvectors/train_aug/.done" "$data/train_aug/.done")
  if $eval_only; then
    log "evaluation only: no training embeddings"
  elif is_done "$dir/.done" "$key" "$dir/xvector.scp"; then
    skip "$dir"
  else
    subset_scp "$data/train_crops/utt2spk" "$bdir/xvectors/train_aug/xvector.scp" "$dir/xvector.scp"
    log "$dir/xvector.scp: the clean crops (embedded in $bdir/xvectors/train_aug)"
    mark_done "$dir/.done" "$key"
  fi
  stage_end
fi

# ---- stage 5: SEED training with torchrun --------------------------------------------------------
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  stage_begin 5 "SEED training ($seed_name; $nnodes node(s) x $nproc_per_node process(es))"
  if [ -n "$seed_checkpoint" ]; then
    log "--seed-checkpoint $seed_checkpoint given: no training"
  elif $eval_only; then
    log "evaluation only: no training; enhancing with $sdir/final.pt"
  else
    emb=$bdir/xvectors
    dev_opts=()
    if [ -n "$seed_dev_set" ]; then
      dev_opts=(--dev-trials "$data/trials/$seed_dev_set" --dev-enroll "scp:$emb/eval_full/xvector.scp")
    fi
    key=$(key_of train "$seed_conf" "$seed_train_opts" "$seed" "${dev_opts[@]}" \
      "$emb/train_crops/.done" "$emb/train_aug/.done" \
      $([ -n "$seed_dev_set" ] && echo "$emb/eval_full/.done"))
    if is_done "$sdir/.done" "$key" "$sdir/final.pt"; then
      skip "$sdir"
    else
      mkdir -p "$sdir/log"
      train_log=$sdir/log/train.log
      [ "$nnodes" -eq 1 ] && [ -z "$rdzv_endpoint" ] || train_log=$sdir/log/train.$(hostname -s).log
      # --resume: an interrupted run continues from its last checkpoint; the trainer refuses one
      # whose config or training embeddings changed (delete or rename $sdir to train anew)
      log "training $sdir (log: $train_log); an interrupted run resumes from its last checkpoint"
      threads=$(job_threads "$nproc_per_node")  # one thread share per torchrun worker of this node
      # shellcheck disable=SC2086
      OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
      run_job "$seed_cmd --gpu $((gpu * nproc_per_node))" "$train_log" utils/train_seed.sh \
        --nproc-per-node "$nproc_per_node" --nnodes "$nnodes" --rdzv-endpoint "$rdzv_endpoint" \
        --rdzv-id "$rdzv_id" --rdzv-backend "$rdzv_backend" -- \
        --resume --config "$seed_conf" --seed "$seed" --device "$device" \
        --clean "scp:$emb/train_crops/xvector.scp" --noisy "scp:$emb/train_aug/xvector.scp" \
        --pairs "$data/train_aug/utt2clean" "${dev_opts[@]}" $seed_train_opts "$sdir"
      [ -f "$sdir/final.pt" ] || die "$train_log" "training ended without $sdir/final.pt"
      mark_done "$sdir/.done" "$key"
    fi
  fi
  stage_end
fi

# ---- stage 6: enhancement of the evaluation embeddings ------------------------------------------
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  stage_begin 6 "enhancement of the evaluation embeddings ($seed_name, t*=$t_star, seed $enhance_seed)"
  [ -z "$seed_note" ] || log "$seed_note"
  [ -f "$model" ] || die "$model" "no trained SEED model; run stage 5 first"
  for x in eval_multi eval_full; do
    dir=$sdir/xvectors/$x
    key=$(key_of enhance "$t_star" "$enhance_seed" "$model_id" "${model_opts[@]}" "$bdir/xvectors/$x/.done")
    if is_done "$dir/.done" "$key" "$dir/xvector.scp"; then skip "$dir"; continue; fi
    mkdir -p "$dir/log"
    run_job "$cuda_cmd --gpu $gpu" "$dir/log/enhance.log" seedkit-enhance "${model_opts[@]}" \
      --seed "$enhance_seed" --t-star "$t_star" --device "$device" "$model" "scp:$bdir/xvectors/$x/xvector.scp" \
      "ark,scp:$dir/xvector.ark,$dir/xvector.scp"
    mark_done "$dir/.done" "$key"
  done
  stage_end
fi

# ---- stage 7: scoring, DET plots, RESULTS.md -----------------------------------------------------
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_begin 7 "scoring: baseline vs $seed_name, SEED and wespeaker protocols"
  opts=(--seed-model "$model")
  for v in data bdir sdir seed_name backbone_tag test_sets p_target_seed p_target_wespeaker \
      backbone_conf backbone_checkpoint t_star eval_crops eval_crop_sec results; do opts+=("--${v//_/-}" "${!v}"); done
  local/score.sh "${opts[@]}"
  stage_end
fi

log "finished in $(( $(date +%s) - t_start )) s"
printf '%s' "$stage_summary" >&2
