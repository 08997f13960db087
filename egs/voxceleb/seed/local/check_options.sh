# Sourced by run.sh after utils/parse_options.sh: every option checked (one ERROR line naming the
# option and the fix, before any work), then the names the stages use: test_sets (+ voxsrc23),
# seed_checkpoint ("release" resolved), enhance_seed/release_seed, eval_only (auto resolved),
# seed_note, backbone_tag, bdir, seed_name, sdir, model/model_opts/model_id, gpu. Last, when stage 4 (or an evaluation-only stage 6)
# will run: the backbone and SEED models load and fit (local/check_models.py).
# shellcheck shell=bash

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
[ "$nnodes" -eq 1 ] || [ -n "$rdzv_endpoint" ] || die "$0" "--nnodes $nnodes needs --rdzv-endpoint HOST:PORT"
check_int t_star 0 100000
check_number crop_sec
check_number eval_crop_sec
check_probs p_target_seed
check_probs p_target_wespeaker
for b in librilight_segments fresh_crops materialise materialise_16k; do
  case ${!b} in true|false) ;;
    *) die "$0" "--${b//_/-} must be true or false, got '${!b}'" ;; esac
done

[ -f "$corpus_rates" ] || die "$0" "--corpus-rates $corpus_rates: no such file; give a file like conf/corpus_rates.yaml"

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
  seed_checkpoint=$(local/release_seed.py --prog "$(basename "$0")" file "$backbone_conf") || exit 1
fi
[ -z "$seed_checkpoint" ] || [ -f "$seed_checkpoint" ] || \
  die "$seed_checkpoint" "SEED checkpoint not found (--seed-checkpoint)"
# the enhancement seed: --seed, or the evaluation seed a release checkpoint is named after
enhance_seed=$seed
release_seed=
[ -z "$seed_checkpoint" ] || release_seed=$(local/release_seed.py eval-seed "$seed_checkpoint") || exit 1
if [ -n "$release_seed" ] && ! $seed_given; then enhance_seed=$release_seed; fi
seed_note=
if [ -n "$release_seed" ] && $seed_given; then
  seed_note="enhancement seed $enhance_seed (--seed; the release evaluated $(basename "$seed_checkpoint") with $release_seed)"
elif [ -n "$release_seed" ]; then
  seed_note="enhancement seed $enhance_seed: the release's evaluation seed of $(basename "$seed_checkpoint") (--seed S to change; the noise is seedkit's per-embedding draw, not the release's CUDA stream)"
fi
[ -f "$seed_conf" ] || die "$seed_conf" "SEED conf not found (--seed-conf)"
# the SEED conf's keys and values now, not at stage 5 after hours of preparation
check_seed_conf "$seed_conf"
case $eval_only in
  auto) if [ -n "$seed_checkpoint" ]; then eval_only=true; else eval_only=false; fi ;;
  true|false) ;;
  *) die "$0" "--eval-only must be auto, true or false, got '$eval_only'" ;;
esac

backbone_tag=${backbone_tag:-$(basename "$backbone_conf" .yaml)}
bdir=$exp/$backbone_tag
if [ -n "$seed_checkpoint" ]; then
  seed_name=official_$(basename "${seed_checkpoint%.*}")
else
  seed_name=$(basename "$seed_conf" .yaml)
fi
sdir=$bdir/$seed_name
# the SEED model stage 6 enhances with, its options, and what identifies it for the stamps
if [ -n "$seed_checkpoint" ]; then
  model=$seed_checkpoint
  model_opts=(--config "$seed_conf")
  model_id="$(file_id "$seed_checkpoint") $seed_conf"
else
  model=$sdir/final.pt
  model_opts=()
  model_id=$sdir/.done
fi
if $eval_only && [ -z "$seed_checkpoint" ] && [ ! -f "$sdir/final.pt" ]; then
  die "$sdir/final.pt" "--eval-only true needs a SEED model: give --seed-checkpoint FILE (an" \
    "official SEED model) or train one first (run.sh without --eval-only)"
fi

# GPUs a job asks the scheduler for (run.pl ignores it): none with --device cpu, else one.
gpu=1
if [ "$device" = cpu ]; then gpu=0; fi

# the models load and fit, before any download (local/check_models.py)
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
