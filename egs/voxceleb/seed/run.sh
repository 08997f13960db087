#!/usr/bin/env bash
# SEED (speaker embedding enhancement diffusion) on VoxCeleb: the paper's setting.
#
# A frozen speaker model (ResNetSE34V2 or ECAPA-TDNN, official checkpoints) embeds clean
# LibriTTS-R + Libri-Light speech and MUSAN/RIR-augmented copies of it; a small diffusion network
# (SEED) learns to map the noisy embeddings to the clean ones; the evaluation embeddings of
# VoxCeleb1-O (cleaned) and VC-Mix are enhanced and scored with the SEED protocol and the
# wespeaker protocol, baseline against SEED. See docs/voxceleb_recipe.md.
#
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
test_sets="vox1_o vcmix"         # evaluation trial lists: vox1_o (VoxCeleb1-O cleaned) and/or vcmix
nj=8                             # parallel jobs for preparation, resampling and augmentation
aug_rounds=1                     # K: rounds of a clean crop + {music, noise, reverb} copies of it per utterance
fresh_crops=true                 # true: every round draws its own crop; false: all rounds corrupt one crop
materialise=false                # false: stage 3 writes pair specs (KB), stage 4 renders them; true: wav files
crop_sec=2.015                   # training crop length (SEED: 200 frames + 240 samples = 32,240)
seed=0                           # seed of every stochastic step (crops, augmentation, training, enhancement)
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
seed_checkpoint=                 # official SEED diffusion weights: skip training, enhance with these ("release": the release's file for the backbone under pretrained/)
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
  0 corpora: download with lhotse (VoxCeleb1, MUSAN, RIRS_NOISES, LibriTTS-R), Libri-Light small
    (URL + md5) and VoxConverse-SV, resumable; or link copies on disk (--corpora-on-disk DIR,
    --<corpus>-on-disk DIR)                                          -> \$corpora/
  1 lhotse manifests -> Kaldi data dirs; trial lists VoxCeleb1-O cleaned (37,611 trials) and
    VC-Mix                                   -> \$data/local/<set>/, \$data/manifests/, \$data/trials/
  2 resampling to 16 kHz mono wav (ffmpeg, --nj jobs through cmd.sh); train and eval sets
                                             -> \$data/<set>/, \$data/audio/, \$data/train, \$data/eval
  3 training pairs in SEED's shape: --aug-rounds x {a --crop-sec clean crop, music 5-15 dB,
    noise 0-15 dB, simulated-RIR reverb}, written as specs that stage 4 renders in memory
    (--materialise true: as wav files)            -> \$data/train_crops/, \$data/train_aug/
  4 backbone embeddings: training pairs (whole crops), evaluation 10 x 4.015 s crops and full
    utterances
                                             -> \$exp/<backbone>/xvectors/<set>/xvector.scp
  5 SEED training with torchrun (--nproc-per-node, --nnodes, --rdzv-endpoint, --rdzv-id)
                                             -> \$exp/<backbone>/<seed-conf>/final.pt
  6 enhancement of the evaluation embeddings -> \$exp/<backbone>/<seed-conf>/xvectors/<set>/
  7 scoring, baseline vs SEED: SEED protocol (multi-crop, -mean L2 distance, minDCF p=0.05) and
    wespeaker protocol (full-utterance cosine, minDCF p=0.01); DET plots; RESULTS.md
                                             -> \$exp/<backbone>/scores/, \$results
Work that is complete (its .done stamp matches its inputs and options) is skipped on a re-run;
changed options or inputs redo it and everything after it.
Jobs run through cmd.sh: local (utils/run.pl) by default, Slurm with SEEDKIT_CMD=slurm.

Options (--name value; the default follows each; conf files document their own keys):
  --stage N, --stop-stage N      stages to run [0, 7]
  --corpora DIR                  corpora directory [corpora]
  --data DIR, --exp DIR          data and experiment directories [data, exp]
  --results FILE                 copy of the results table ['' = none] [RESULTS.md]
  --corpora-on-disk DIR          use the corpora under DIR (named as stage 0 names them)
  --voxceleb1-on-disk DIR, --musan-on-disk DIR, --rirs-noises-on-disk DIR,
  --librittsr-on-disk DIR, --librilight-on-disk DIR, --voxconverse-sv-on-disk DIR
                                 use one corpus from DIR (wins over --corpora-on-disk)
  --librittsr-parts 'P ...'      LibriTTS-R parts [train-clean-100 train-clean-360]
  --librilight-url URL, --librilight-md5 MD5   mirror of small.tar and its md5
  --vox1-trials FILE             VoxCeleb1-O trial list, VoxCeleb or Kaldi form
                                 ['' = veri_test2.txt of the VoxCeleb1 copy]
  --voxsrc23-trials FILE         optional third test set 'voxsrc23' (the paper's VoxSRC-23; the
                                 release ships no list: bring the VoxSRC-23 validation list,
                                 '<1|0> <enroll path> <test path>'); every file must exist
  --voxsrc23-root DIR            directory the list's paths are relative to
                                 ['' = \$corpora/voxceleb1/wav]
  --train-corpora 'C ...'        SEED training speech: librittsr librilight
  --librilight-segments BOOL     Libri-Light: one utterance per voice-activity segment [false]
  --test-sets 'S ...'            vox1_o and/or vcmix [vox1_o vcmix]
  --nj N                         CPU jobs for preparation/resampling/augmentation [8]
  --aug-rounds K                 rounds of {clean crop, music, noise, reverb} per utterance [1]
  --fresh-crops BOOL             a fresh crop per round (false: one crop per utterance) [true]
  --materialise BOOL             write the augmented wavs (for other extractors) [false]
  --crop-sec SEC                 training crop length [2.015]
  --seed S                       seed of every stochastic step [0]; with a release SEED
                                 checkpoint (*_evalseed_N.model) the enhancement seed is N
                                 (2690 ResNet, 898 ECAPA) unless --seed is given
  --backbone-conf FILE           conf/resnetse34v2.yaml | conf/ecapa_tdnn.yaml | your own
  --backbone-checkpoint FILE     backbone weights (official_resnetse34V2.model,
                                 official_ecapatdnn.model) ['' = the conf's checkpoint]
  --backbone-tag NAME            exp sub-dir name ['' = conf name]
  --allow-random-backbone BOOL   random weights when there is no checkpoint (tests) [false]
  --extract-nj N                 embedding jobs [4]
  --eval-crops N, --eval-crop-sec SEC   SEED evaluation crops [10, 4.015]
  --device D                     auto | cpu | cuda [auto]
  --seed-conf FILE               SEED conf [conf/seed_rdm_mlp3.yaml]
  --seed-checkpoint FILE         official SEED weights: no training (stage 5 skipped);
                                 'release' = pretrained/resnet34V2_SEED_evalseed_2690.model
                                 (ResNetSE34V2) or pretrained/ecapa_SEED_evalseed_898.model
                                 (ECAPA_TDNN), by the backbone conf's model
  --eval-only auto|true|false    evaluation only: download, prepare and embed only the test
                                 sets (stages 3 and 5 skipped); needs --seed-checkpoint or a
                                 trained model in the exp dir [auto = true with --seed-checkpoint]
  --seed-train-opts 'OPTS'       extra seedkit-train-seed options (any conf key: --epochs 5 ...)
  --seed-dev-set SET             log this test set's EER every epoch ['' = none]
  --nproc-per-node N             torchrun processes per node [1]
  --nnodes N                     torchrun nodes [1]
  --rdzv-endpoint HOST:PORT      torchrun rendezvous (needed with --nnodes > 1)
  --rdzv-id ID, --rdzv-backend B torchrun rendezvous id and backend [seed, c10d]
  --t-star T                     enhancement timestep [50]
  --p-target-seed P, --p-target-wespeaker P   minDCF priors of the two protocols [0.05, 0.01]
  --config FILE                  read 'name=value' option lines from FILE first (e.g. the test
                                 conf conf/test_tiny.conf); the command line wins"

# was --seed given? (a release SEED checkpoint otherwise brings its own evaluation seed)
seed_on_command_line() {
  local a
  for a in "$@"; do case $a in --seed|--seed=*) return 0 ;; esac; done
  return 1
}
if seed_on_command_line "$@"; then seed_given=true; else seed_given=false; fi

. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. local/lib.sh

[ $# -eq 0 ] || die "$0" "unexpected arguments: $*; every setting is an --option (see --help)"
. utils/lib/check_opts.sh
check_stages 0 7
check_int nj 1 1024
check_int extract_nj 1 1024
check_int aug_rounds 1 1000
check_int seed 0
check_int eval_crops 1 1000
check_int nproc_per_node 1 1024
check_int nnodes 1 100000
check_int t_star 0 100000
check_number crop_sec
check_number eval_crop_sec
check_probs p_target_seed
check_probs p_target_wespeaker
for b in librilight_segments fresh_crops materialise; do
  case ${!b} in true|false) ;;
    *) die "$0" "--${b//_/-} must be true or false, got '${!b}'" ;; esac
done

# ---- checks and derived names ----------------------------------------------------------------
for t in $test_sets; do
  in_list "$t" vox1_o vcmix || die "$0" "unknown test set '$t' in --test-sets; use vox1_o and/or vcmix"
done
[ -n "$test_sets" ] || die "$0" "--test-sets is empty; give vox1_o and/or vcmix"
for c in $train_corpora; do
  in_list "$c" librittsr librilight || die "$0" "unknown corpus '$c' in --train-corpora; use librittsr and/or librilight"
done
[ -n "$train_corpora" ] || die "$0" "--train-corpora is empty; give librittsr and/or librilight"
[ -z "$seed_dev_set" ] || in_list "$seed_dev_set" $test_sets || \
  die "$0" "--seed-dev-set '$seed_dev_set' is not one of --test-sets ($test_sets)"
case $device in auto|cpu|cuda|cuda:*) ;; *) die "$0" "--device must be auto, cpu or cuda, got '$device'" ;; esac
[ -f "$backbone_conf" ] || die "$backbone_conf" "backbone conf not found (--backbone-conf)"
[ -z "$backbone_checkpoint" ] || [ -f "$backbone_checkpoint" ] || \
  die "$backbone_checkpoint" "backbone checkpoint not found (--backbone-checkpoint)"
[ -z "$vox1_trials" ] || [ -f "$vox1_trials" ] || die "$vox1_trials" "trial list not found (--vox1-trials)"
if [ -n "$voxsrc23_trials" ]; then
  [ -f "$voxsrc23_trials" ] || die "$voxsrc23_trials" "trial list not found (--voxsrc23-trials)"
  test_sets+=" voxsrc23"
  if [ -n "$voxsrc23_root" ]; then  # its files now, not after the downloads
    local/prepare_voxsrc23.py --check-only "$voxsrc23_trials" "$voxsrc23_root" >&2 || exit 1
  fi
else
  [ -z "$voxsrc23_root" ] || die "$0" "--voxsrc23-root needs --voxsrc23-trials"
fi
if [ "$seed_checkpoint" = release ]; then
  # the release's SEED file for this backbone, by its release name
  seed_checkpoint=$(python3 -c 'import sys
from seedkit.errors import run_main
from seedkit.release import print_release_seed_file
sys.exit(run_main(print_release_seed_file, sys.argv[1], sys.argv[2:]))' \
    "$(basename "$0")" "$backbone_conf") || exit 1
fi
[ -z "$seed_checkpoint" ] || [ -f "$seed_checkpoint" ] || \
  die "$seed_checkpoint" "SEED checkpoint not found (--seed-checkpoint)"
# the enhancement seed: --seed, or the evaluation seed a release checkpoint is named after
enhance_seed=$seed
case $(basename "${seed_checkpoint:-none}") in
  resnet34V2_SEED_evalseed_2690.model) release_seed=2690 ;;
  ecapa_SEED_evalseed_898.model) release_seed=898 ;;
  *) release_seed= ;;
esac
if [ -n "$release_seed" ] && ! $seed_given; then enhance_seed=$release_seed; fi
[ -f "$seed_conf" ] || die "$seed_conf" "SEED conf not found (--seed-conf)"
# the SEED conf's keys and values now, not at stage 5 after hours of preparation
check_seed_conf "$seed_conf"
case $eval_only in
  auto) if [ -n "$seed_checkpoint" ]; then eval_only=true; else eval_only=false; fi ;;
  true|false) ;;
  *) die "$0" "--eval-only must be auto, true or false, got '$eval_only'" ;;
esac

# corpus name -> directory name under $corpora (as seedkit-download-corpus lays them out)
corpus_dir() {
  case $1 in
    voxceleb1) echo voxceleb1 ;; musan) echo musan ;; rirs_noises) echo RIRS_NOISES ;;
    librittsr) echo LibriTTS_R ;; librilight) echo librilight ;;
    voxconverse_sv) echo voxconverse_test_SV ;;
  esac
}
# corpus name -> the data dirs stage 1 writes for it under $data/local (those the recipe uses)
prepared_sets() {
  case $1 in
    voxceleb1) echo voxceleb1_test ;; musan) echo musan ;; rirs_noises) echo rirs ;;
    librittsr) for p in $librittsr_parts; do echo "librittsr_${p//-/_}"; done ;;
    librilight) echo librilight_small ;; voxconverse_sv) echo voxconverse_sv ;;
  esac
}
# evaluation only: the test sets' corpora; VoxCeleb1's test part alone (the recipe never reads
# its dev part)
if $eval_only; then
  corpora_needed=voxceleb1
else
  corpora_needed="voxceleb1 musan rirs_noises $train_corpora"
fi
in_list vcmix $test_sets && corpora_needed+=" voxconverse_sv"

# Kaldi data dirs of each corpus (stage 1 writes them under $data/local, stage 2 resamples them)
train_parts=$(for c in $train_corpora; do prepared_sets "$c"; done | tr '\n' ' ')
eval_parts="voxceleb1_test"
in_list vcmix $test_sets && eval_parts+=" voxconverse_sv"
in_list voxsrc23 $test_sets && eval_parts+=" voxsrc23"
if $eval_only; then
  resample_sets=$eval_parts
  combined_sets=eval
else
  resample_sets="$train_parts musan rirs $eval_parts"
  combined_sets="train eval"
fi

backbone_tag=${backbone_tag:-$(basename "$backbone_conf" .yaml)}
bdir=$exp/$backbone_tag
if [ -n "$seed_checkpoint" ]; then
  seed_name=official_$(basename "${seed_checkpoint%.*}")
else
  seed_name=$(basename "$seed_conf" .yaml)
fi
sdir=$bdir/$seed_name
if $eval_only && [ -z "$seed_checkpoint" ] && [ ! -f "$sdir/final.pt" ]; then
  die "$sdir/final.pt" "--eval-only true needs a SEED model: give --seed-checkpoint FILE (an" \
    "official SEED model) or train one first (run.sh without --eval-only)"
fi

# run_job RUNNER LOG COMMAND...: one job through cmd.sh; on failure show its first ERROR line.
run_job() {
  local runner=$1 logf=$2
  shift 2
  # shellcheck disable=SC2086
  if ! $runner "$logf" "$@"; then
    local err
    err=$(grep -a -o -m1 'ERROR (.*' "$logf" || true)
    if [ -n "$err" ]; then  # the job's own "<file>:<line>: <what>", as this script's one line
      echo "ERROR (run.sh): ${err#ERROR (*): } (job failed; log: $logf)" >&2
      exit 1
    fi
    tail -n 5 "$logf" >&2 || true
    die "$logf" "job failed; see this log"
  fi
}

# GPUs a job asks the scheduler for (run.pl ignores it): none with --device cpu, else one.
gpu=1
if [ "$device" = cpu ]; then gpu=0; fi

# file_id FILE: what identifies a (possibly large) file for a stamp: path, size and mtime.
file_id() { [ -z "$1" ] && echo none || ls -lL --time-style=+%s "$1" | awk '{print $5, $6, $7}'; }

t_start=$(date +%s)

# ---- before any download: the plan, and the models load and fit --------------------------------
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  plan=()
  for c in $corpora_needed; do
    var=${c}_on_disk
    src=${!var}
    if [ -z "$src" ] && [ -n "$corpora_on_disk" ]; then src=$corpora_on_disk/$(corpus_dir "$c"); fi
    plan+=("$c=$src")
  done
  local/corpus_plan.py --corpora "$corpora" --librittsr-parts "$librittsr_parts" \
    --eval-only "$eval_only" "${plan[@]}"
fi
if { [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; } || \
    { [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ] && $eval_only; }; then
  seed_model=$seed_checkpoint
  if $eval_only && [ -z "$seed_model" ]; then seed_model=$sdir/final.pt; fi
  local/check_models.py --backbone-conf "$backbone_conf" \
    --backbone-checkpoint "$backbone_checkpoint" --allow-random-weights "$allow_random_backbone" \
    --seed-model "$seed_model" --seed-conf "$([ -n "$seed_checkpoint" ] && echo "$seed_conf")" \
    | while read -r line; do log "$line"; done
  [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
fi

# ---- stage 0: corpora --------------------------------------------------------------------------
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  stage_begin 0 "corpora ($corpora_needed)"
  mkdir -p "$corpora"
  # corpora on disk are checked and linked first: a missing one fails before any download
  on_disk_first=$(for c in $corpora_needed; do
    var=${c}_on_disk
    if [ -n "${!var}" ] || [ -n "$corpora_on_disk" ]; then echo "$c"; fi
  done; for c in $corpora_needed; do
    var=${c}_on_disk
    if [ -z "${!var}" ] && [ -z "$corpora_on_disk" ]; then echo "$c"; fi
  done)
  for c in $on_disk_first; do
    d=$(corpus_dir "$c")
    if [ -f "$corpora/.seedkit_$c.complete" ] && [ -e "$corpora/$d" ]; then
      log "$corpora/$d is complete ($corpora/.seedkit_$c.complete); skipping"
      continue
    fi
    var=${c}_on_disk
    src=${!var}
    [ -z "$src" ] && [ -n "$corpora_on_disk" ] && src=$corpora_on_disk/$d
    opts=()
    parts=()
    [ -n "$src" ] && opts+=(--on-disk "$src")
    case $c in
      # --parts takes several values: it goes after the positional arguments
      librittsr) parts=(--parts $librittsr_parts) ;;
      voxceleb1) parts=(--parts test) ;;  # VoxCeleb1-O and VC-Mix read the test part only
      librilight)
        if [ -n "$librilight_url" ]; then opts+=(--url "$librilight_url"); fi
        if [ -n "$librilight_md5" ]; then opts+=(--md5 "$librilight_md5"); fi ;;
    esac
    if [ -n "$src" ]; then
      log "$c: linking $src as $corpora/$d"
    else
      log "$c: downloading into $corpora/$d (an interrupted download resumes on a re-run)"
    fi
    seedkit-download-corpus "${opts[@]}" "$c" "$corpora" "${parts[@]}" >/dev/null
  done
  stage_end
fi

# ---- stage 1: manifests -> Kaldi data dirs, trial lists ---------------------------------------
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  stage_begin 1 "lhotse manifests -> Kaldi data dirs; trial lists"
  for c in $corpora_needed; do
    d=$(corpus_dir "$c")
    [ -f "$corpora/.seedkit_$c.complete" ] || \
      die "$corpora/.seedkit_$c.complete" "corpus $c is not complete; run stage 0 first"
    opts=(--manifests "$data/manifests")
    parts=()
    case $c in
      voxceleb1)
        opts+=(--nj "$nj")
        if [ -n "$vox1_trials" ]; then opts+=(--trials "$vox1_trials"); fi ;;
      librittsr) opts+=(--nj "$nj"); parts=(--parts $librittsr_parts) ;;
      librilight)
        opts+=(--nj "$nj")
        if $librilight_segments; then opts+=(--segments); fi ;;
    esac
    stamp=$data/local/.prepare/$c
    key=$(key_of prepare "$c" "${opts[@]}" "${parts[@]}" "$corpora/.seedkit_$c.complete")
    outputs=()
    for x in $(prepared_sets "$c"); do outputs+=("$data/local/$x/wav.scp"); done
    if done_with "$stamp" "$key" "${outputs[@]}"; then skip "$stamp"; continue; fi
    run_job "$train_cmd" "$data/local/log/prepare_$c.log" \
      seedkit-prepare-corpus --force "${opts[@]}" "$c" "$corpora/$d" "$data/local" "${parts[@]}"
    mark_done "$stamp" "$key"
  done

  key=$(key_of trials "$test_sets" "$data/local/.prepare/voxceleb1/.done" \
    $(in_list vcmix $test_sets && echo "$data/local/.prepare/voxconverse_sv/.done"))
  if done_with "$data/trials" "$key"; then
    skip "$data/trials"
  else
    mkdir -p "$data/trials"
    if in_list vox1_o $test_sets; then
      cp "$data/local/voxceleb1_test/trials" "$data/trials/vox1_o"
      n=$(wc -l < "$data/trials/vox1_o")
      log "VoxCeleb1-O: $n trials in $data/trials/vox1_o (the cleaned list has 37,611)"
    fi
    if in_list vcmix $test_sets; then
      run_job "$train_cmd" "$data/local/log/make_vcmix.log" seedkit-make-vcmix \
        "$data/local/voxceleb1_test" "$data/local/voxconverse_sv" "$data/local/vcmix"
      cp "$data/local/vcmix/trials" "$data/trials/vcmix"
      log "VC-Mix: $(wc -l < "$data/trials/vcmix") trials in $data/trials/vcmix (VoxConverse-SV" \
        "non-target + VoxCeleb1-O target)"
    fi
    mark_done "$data/trials" "$key"
  fi
  if [ -n "$voxsrc23_trials" ]; then
    root=${voxsrc23_root:-$corpora/voxceleb1/wav}
    key=$(key_of voxsrc23 "$voxsrc23_trials" "$(cd "$root" 2>/dev/null && pwd)" \
      "$corpora/.seedkit_voxceleb1.complete")
    if done_with "$data/local/voxsrc23" "$key" "$data/local/voxsrc23/trials"; then
      skip "$data/local/voxsrc23"
    else
      rm -rf "$data/local/voxsrc23"
      local/prepare_voxsrc23.py "$voxsrc23_trials" "$root" "$data/local/voxsrc23" >&2 || exit 1
      mark_done "$data/local/voxsrc23" "$key"
    fi
    cmp -s "$data/local/voxsrc23/trials" "$data/trials/voxsrc23" 2>/dev/null || \
      cp "$data/local/voxsrc23/trials" "$data/trials/voxsrc23"
  fi
  stage_end
fi

# ---- stage 2: resampling to 16 kHz mono wav; training and evaluation sets ---------------------
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  stage_begin 2 "resampling to 16 kHz ($nj jobs)"
  for x in $resample_sets; do
    [ -f "$data/local/$x/wav.scp" ] || die "$data/local/$x/wav.scp" "not prepared; run stage 1 first"
    key=$(key_of resample 16000 "$data/local/$x/wav.scp" "$data/local/$x/utt2spk")
    if done_with "$data/$x" "$key" "$data/$x/wav.scp"; then skip "$data/$x"; continue; fi
    utils/resample_data_dir.sh --cmd "$train_cmd" --nj "$nj" --sample-rate 16000 \
      "$data/local/$x" "$data/$x" "$data/audio/$x"
    mark_done "$data/$x" "$key"
  done
  # SEED's training set and one evaluation set holding every test utterance (embedded once)
  for dest in $combined_sets; do
    srcs=()
    if [ "$dest" = train ]; then parts_of_dest=$train_parts; else parts_of_dest=$eval_parts; fi
    for x in $parts_of_dest; do srcs+=("$data/$x"); done
    key=$(key_of combine "${srcs[@]/%//.done}")
    if done_with "$data/$dest" "$key" "$data/$dest/wav.scp"; then skip "$data/$dest"; continue; fi
    local/combine_data.sh "$data/$dest" "${srcs[@]}"
    mark_done "$data/$dest" "$key"
  done
  stage_end
fi

# ---- stage 3: augmentation -----------------------------------------------------------------------
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ] && $eval_only; then
  log "=== stage 3: evaluation only: no training pairs to augment; skipping"
elif [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  stage_begin 3 "augmentation: $aug_rounds x {music, noise, reverb} per $crop_sec s crop"
  key=$(key_of augment "$aug_rounds" "$crop_sec" "$seed" "$fresh_crops" "$materialise" \
    "$data/train/.done" "$data/musan/.done" "$data/rirs/.done")
  if done_with "$data/train_aug" "$key" "$data/train_aug/utt2clean" "$data/train_crops/wav.scp"; then
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
      --fresh-crops "$fresh_crops" --materialise "$materialise" \
      "$data/train" "$data/train_crops" "$data/train_aug"
    mark_done "$data/train_aug" "$key"
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
    name=${spec%%:*}
    rest=${spec#*:}
    src=${rest%%:*}
    crop=${rest#*:}
    dir=$bdir/xvectors/$name
    key=$(key_of extract "${opts[@]}" "$crop" "$backbone_conf" "$(file_id "$backbone_checkpoint")" \
      "$data/$src/.done")
    if done_with "$dir" "$key" "$dir/xvector.scp"; then skip "$dir"; continue; fi
    threads=$(job_threads "$extract_nj")
    OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    utils/extract_embeddings.sh --cmd "$extract_cmd --gpu $gpu" --nj "$extract_nj" "${opts[@]}" \
      --num-threads "$threads" --crop "$crop" "$data/$src" "$dir"
    mark_done "$dir" "$key"
  done
  dir=$bdir/xvectors/train_crops
  key=$(key_of clean-subset "$bdir/xvectors/train_aug/.done" "$data/train_aug/.done")
  if $eval_only; then
    log "evaluation only: no training embeddings"
  elif done_with "$dir" "$key" "$dir/xvector.scp"; then
    skip "$dir"
  else
    mkdir -p "$dir"
    awk 'NR == FNR { clean[$1] = 1; next } ($1 in clean)' "$data/train_crops/utt2spk" \
      "$bdir/xvectors/train_aug/xvector.scp" > "$dir/xvector.scp.tmp"
    n=$(wc -l < "$dir/xvector.scp.tmp")
    [ "$n" -eq "$(wc -l < "$data/train_crops/utt2spk")" ] || die "$dir/xvector.scp.tmp" \
      "$n clean-crop embeddings in $bdir/xvectors/train_aug for" \
      "$(wc -l < "$data/train_crops/utt2spk") clean crops; redo stages 3-4"
    mv "$dir/xvector.scp.tmp" "$dir/xvector.scp"
    log "$dir/xvector.scp: the $n clean crops (embedded in $bdir/xvectors/train_aug)"
    mark_done "$dir" "$key"
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
    [ -f "$seed_conf" ] || die "$seed_conf" "SEED conf not found (--seed-conf)"
    emb=$bdir/xvectors
    dev_opts=()
    if [ -n "$seed_dev_set" ]; then
      dev_opts=(--dev-trials "$data/trials/$seed_dev_set" --dev-enroll "scp:$emb/eval_full/xvector.scp")
    fi
    key=$(key_of train "$seed_conf" "$seed_train_opts" "$seed" "${dev_opts[@]}" \
      "$emb/train_crops/.done" "$emb/train_aug/.done" \
      $([ -n "$seed_dev_set" ] && echo "$emb/eval_full/.done"))
    if done_with "$sdir" "$key" "$sdir/final.pt"; then
      skip "$sdir"
    else
      if [ -f "$sdir/.inputs" ] && [ "$(cat "$sdir/.inputs")" != "$key" ] && \
          { [ -f "$sdir/final.pt" ] || [ -n "$(ls -A "$sdir/checkpoints" 2>/dev/null)" ]; }; then
        die "$sdir/.inputs" "$sdir holds a training run with other inputs or options (its" \
          "embeddings, conf or --seed-train-opts changed); delete or rename $sdir to train anew"
      fi
      mkdir -p "$sdir/log"
      echo "$key" > "$sdir/.inputs"
      if [ "$nnodes" -eq 1 ] && [ -z "$rdzv_endpoint" ]; then
        launcher=(torchrun --standalone --nnodes 1 --nproc-per-node "$nproc_per_node")
        train_log=$sdir/log/train.log
      else
        [ -n "$rdzv_endpoint" ] || die "$0" "--nnodes $nnodes needs --rdzv-endpoint HOST:PORT"
        launcher=(torchrun --nnodes "$nnodes" --nproc-per-node "$nproc_per_node"
                  --rdzv-backend "$rdzv_backend" --rdzv-endpoint "$rdzv_endpoint"
                  --rdzv-id "$rdzv_id")
        train_log=$sdir/log/train.$(hostname -s).log
      fi
      gpus=$((gpu * nproc_per_node))
      train_device=$device
      # torchrun puts its workers in sessions of their own: were torchrun killed (SIGKILL, a
      # cancelled job), they would train on as orphans beside the resumed run. setpriv
      # (util-linux) makes each worker die with torchrun.
      trainer=("$(command -v seedkit-train-seed)")
      if command -v setpriv >/dev/null 2>&1; then
        trainer=(setpriv --pdeathsig KILL -- "${trainer[@]}")
      fi
      log "training $sdir (log: $train_log); an interrupted run resumes from its last checkpoint"
      # one thread share per torchrun worker of this node (job_threads)
      threads=$(job_threads "$nproc_per_node")
      # shellcheck disable=SC2086
      OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
      run_job "$seed_cmd --gpu $gpus" "$train_log" "${launcher[@]}" --no-python "${trainer[@]}" \
        --resume --config "$seed_conf" --seed "$seed" --device "$train_device" \
        --clean "scp:$emb/train_crops/xvector.scp" --noisy "scp:$emb/train_aug/xvector.scp" \
        --pairs "$data/train_aug/utt2clean" "${dev_opts[@]}" $seed_train_opts "$sdir"
      [ -f "$sdir/final.pt" ] || die "$train_log" "training ended without $sdir/final.pt"
      mark_done "$sdir" "$key"
    fi
  fi
  stage_end
fi

# ---- stage 6: enhancement of the evaluation embeddings ------------------------------------------
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  stage_begin 6 "enhancement of the evaluation embeddings ($seed_name, t*=$t_star, seed $enhance_seed)"
  if [ -n "$release_seed" ]; then
    if $seed_given; then
      log "enhancement seed $enhance_seed (--seed; the release evaluated $(basename "$seed_checkpoint") with $release_seed)"
    else
      log "enhancement seed $enhance_seed: the release's evaluation seed of $(basename "$seed_checkpoint") (--seed S to change; the noise is seedkit's per-embedding draw, not the release's CUDA stream)"
    fi
  fi
  if [ -n "$seed_checkpoint" ]; then
    model=$seed_checkpoint
    model_opts=(--config "$seed_conf")
    model_id="$(file_id "$seed_checkpoint") $seed_conf"
  else
    model=$sdir/final.pt
    model_opts=()
    model_id=$sdir/.done
    [ -f "$model" ] || die "$model" "no trained SEED model; run stage 5 first"
  fi
  enh_device=$device
  if [ "$enh_device" = auto ]; then
    enh_device=$(python -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
  fi
  for x in eval_multi eval_full; do
    dir=$sdir/xvectors/$x
    key=$(key_of enhance "$t_star" "$enhance_seed" "$model_id" "${model_opts[@]}" "$bdir/xvectors/$x/.done")
    if done_with "$dir" "$key" "$dir/xvector.scp"; then skip "$dir"; continue; fi
    mkdir -p "$dir/log"
    run_job "$cuda_cmd --gpu $gpu" "$dir/log/enhance.log" seedkit-enhance "${model_opts[@]}" \
      --seed "$enhance_seed" --t-star "$t_star" --device "$enh_device" "$model" "scp:$bdir/xvectors/$x/xvector.scp" \
      "ark,scp:$dir/xvector.ark,$dir/xvector.scp"
    mark_done "$dir" "$key"
  done
  stage_end
fi

# ---- stage 7: scoring, DET plots, RESULTS.md -----------------------------------------------------
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  stage_begin 7 "scoring: baseline vs $seed_name, SEED and wespeaker protocols"
  for protocol in seed wespeaker; do
    case $protocol in
      seed) emb=eval_multi; method=seed ;;
      wespeaker) emb=eval_full; method=cosine ;;
    esac
    for system in baseline "$seed_name"; do
      if [ "$system" = baseline ]; then src=$bdir/xvectors/$emb; else src=$sdir/xvectors/$emb; fi
      [ -f "$src/xvector.scp" ] || die "$src/xvector.scp" "embeddings missing; run stages 4-6 first"
      for t in $test_sets; do
        out=$bdir/scores/$protocol/$system/$t
        key=$(key_of score "$method" "$p_target_seed,$p_target_wespeaker" "$data/trials/$t" \
          "$src/.done")
        if done_with "$out" "$key" "$out/metrics.json"; then skip "$out"; continue; fi
        mkdir -p "$out"
        seedkit-score --method "$method" "$data/trials/$t" "scp:$src/xvector.scp" \
          "scp:$src/xvector.scp" "$out/scores"
        seedkit-metrics --p-target "$p_target_wespeaker,$p_target_seed" --json "$out/metrics.json" \
          "$out/scores" "$data/trials/$t" | tee "$out/summary.txt"
        mark_done "$out" "$key"
      done
    done
    for t in $test_sets; do
      det=$bdir/scores/$protocol/det_$t
      key=$(key_of det "$bdir/scores/$protocol/baseline/$t/.done" \
        "$bdir/scores/$protocol/$seed_name/$t/.done")
      if done_with "$det" "$key" "$det.png"; then skip "$det"; continue; fi
      seedkit-plot-det --labels "baseline,SEED ($seed_name)" --trials "$data/trials/$t" \
        --title "$backbone_tag, $t, $protocol protocol" \
        "$bdir/scores/$protocol/baseline/$t/scores" "$bdir/scores/$protocol/$seed_name/$t/scores" \
        "$det.png"
      mark_done "$det" "$key"
    done
  done

  header="header $backbone_conf $backbone_checkpoint $t_star $eval_crops $eval_crop_sec $test_sets"
  key=$(key_of results "$header" $(for p in seed wespeaker; do for s in baseline "$seed_name"; do
    for t in $test_sets; do echo "$bdir/scores/$p/$s/$t/.done"; done; done; done))
  if done_with "$bdir/scores" "$key" "$bdir/RESULTS.md"; then
    skip "$bdir/RESULTS.md"
  else
    local/write_results.sh --bdir "$bdir" --seed-name "$seed_name" --test-sets "$test_sets" \
      --p-target-seed "$p_target_seed" --p-target-wespeaker "$p_target_wespeaker" \
      --backbone-conf "$backbone_conf" --backbone-checkpoint "$backbone_checkpoint" \
      --seed-model "$( [ -n "$seed_checkpoint" ] && echo "$seed_checkpoint" || echo "$sdir/final.pt")" \
      --t-star "$t_star" --eval-crops "$eval_crops" --eval-crop-sec "$eval_crop_sec" \
      "$bdir/RESULTS.md"
    mark_done "$bdir/scores" "$key"
  fi
  if [ -n "$results" ]; then
    cmp -s "$bdir/RESULTS.md" "$results" 2>/dev/null || cp "$bdir/RESULTS.md" "$results"
  fi
  cat "$bdir/RESULTS.md"
  stage_end
fi

log "finished in $(( $(date +%s) - t_start )) s"
printf '%s' "$stage_summary" >&2
