#!/usr/bin/env bash
# local/score.sh [options]: run.sh stage 7. Baseline and SEED embeddings scored with the SEED
# protocol (eval_multi: multi-crop, -mean L2 distance) and the wespeaker protocol (eval_full:
# full-utterance cosine), EER/minDCF per test set with bootstrap intervals (seedkit-metrics --ci:
# VoxCeleb1-O resamples speakers, whose ids start its keys; VC-Mix the speakers of its data dir,
# each VoxConverse segment its own; other lists enrollment models x test segments) and SEED's paired
# comparison with the baseline, DET plots, RESULTS.md (local/write_results.sh) and its copy
# --results. Each piece is skipped when its .done stamp matches its inputs.
data=data                  # data dir holding trials/<set>
bdir=                      # exp/<backbone>: baseline embeddings in xvectors/, scores go to scores/
sdir=                      # the SEED system's dir (its enhanced embeddings in xvectors/)
seed_name=                 # the SEED system's name
backbone_tag=              # shown in the DET titles
test_sets="vox1_o vcmix"   # test sets, in table order
p_target_seed=0.05         # minDCF prior of the SEED protocol
p_target_wespeaker=0.01    # minDCF prior of the wespeaker protocol
backbone_conf=             # shown in RESULTS.md
backbone_checkpoint=       # shown in RESULTS.md ("" = the conf's)
seed_model=                # shown in RESULTS.md
t_star=50                  # shown in RESULTS.md
eval_crops=10              # shown in RESULTS.md
eval_crop_sec=4.015        # shown in RESULTS.md
results=                   # copy of RESULTS.md ("" = none)
ci=95                      # seedkit-metrics --ci level ("" = no intervals)
bootstrap=1000             # seedkit-metrics --bootstrap resamples
. utils/parse_options.sh || exit 1
set -euo pipefail
. utils/lib/recipe.sh

# ci_opts SET: seedkit-metrics' bootstrap options for one test set (none without --ci)
ci_opts() {
  [ -n "$ci" ] || return 0
  echo "--ci $ci --bootstrap $bootstrap"
  case $1 in
    vox1_o) echo "--speaker-from-key" ;;  # id10270-x6uYqmx31kE-00001: speaker id10270
    vcmix)
      if [ -f "$data/local/vcmix/utt2spk" ]; then echo "--utt2spk $data/local/vcmix/utt2spk"
      else echo "--bootstrap-unit model-segment"; fi ;;
    *) echo "--bootstrap-unit model-segment" ;;
  esac
}

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
      base=$bdir/scores/$protocol/baseline/$t
      # shellcheck disable=SC2207
      opts=($(ci_opts "$t"))
      if [ -n "$ci" ] && [ "$system" != baseline ]; then opts+=(--compare "$base/scores"); fi
      key=$(key_of score "$method" "$p_target_seed,$p_target_wespeaker" "$data/trials/$t" \
        "$src/.done" "${opts[@]}" $([ "$system" = baseline ] || echo "$base/.done"))
      if is_done "$out/.done" "$key" "$out/metrics.json"; then skip "$out"; continue; fi
      mkdir -p "$out"
      seedkit-score --method "$method" "$data/trials/$t" "scp:$src/xvector.scp" \
        "scp:$src/xvector.scp" "$out/scores"
      seedkit-metrics --p-target "$p_target_wespeaker,$p_target_seed" "${opts[@]}" \
        --json "$out/metrics.json" "$out/scores" "$data/trials/$t" | tee "$out/summary.txt"
      mark_done "$out/.done" "$key"
    done
  done
  for t in $test_sets; do
    det=$bdir/scores/$protocol/det_$t
    key=$(key_of det "$bdir/scores/$protocol/baseline/$t/.done" \
      "$bdir/scores/$protocol/$seed_name/$t/.done")
    if is_done "$det/.done" "$key" "$det.png"; then skip "$det"; continue; fi
    seedkit-plot-det --labels "baseline,SEED ($seed_name)" --trials "$data/trials/$t" \
      --title "$backbone_tag, $t, $protocol protocol" \
      "$bdir/scores/$protocol/baseline/$t/scores" "$bdir/scores/$protocol/$seed_name/$t/scores" \
      "$det.png"
    mark_done "$det/.done" "$key"
  done
done

header="header $backbone_conf $backbone_checkpoint $t_star $eval_crops $eval_crop_sec $test_sets"
key=$(key_of results "$header" $(for p in seed wespeaker; do for s in baseline "$seed_name"; do
  for t in $test_sets; do echo "$bdir/scores/$p/$s/$t/.done"; done; done; done))
if is_done "$bdir/scores/.done" "$key" "$bdir/RESULTS.md"; then
  skip "$bdir/RESULTS.md"
else
  local/write_results.sh --bdir "$bdir" --seed-name "$seed_name" --test-sets "$test_sets" \
    --p-target-seed "$p_target_seed" --p-target-wespeaker "$p_target_wespeaker" \
    --backbone-conf "$backbone_conf" --backbone-checkpoint "$backbone_checkpoint" \
    --seed-model "$seed_model" \
    --t-star "$t_star" --eval-crops "$eval_crops" --eval-crop-sec "$eval_crop_sec" \
    "$bdir/RESULTS.md"
  mark_done "$bdir/scores/.done" "$key"
fi
if [ -n "$results" ]; then
  cmp -s "$bdir/RESULTS.md" "$results" 2>/dev/null || cp "$bdir/RESULTS.md" "$results"
fi
cat "$bdir/RESULTS.md"
