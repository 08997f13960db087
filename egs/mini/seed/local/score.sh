#!/usr/bin/env bash
# local/score.sh [options]: run.sh stage 7. The baseline, regression and SEED embeddings of each
# eval set scored (seedkit-score, seedkit-metrics: EER/minDCF with --ci intervals over the eval
# set's speakers, and for regression and SEED the paired comparison with the baseline), a DET plot
# per set, and the table RESULTS.md (here and in exp/<backbone>/scores/). Each score is skipped
# when its stamp matches.
bdir=                           # exp/<backbone>: baseline in xvectors/, models in <conf-name>/
seed_name=seed_rdm_mlp3         # the SEED model's dir under bdir
reg_name=seed_regression        # the regression baseline's dir under bdir
eval_sets="eval_clean eval_mix eval_snr0 eval_snr5 eval_snr10 eval_snr15"  # the sets, in table order
score_method=cosine             # seedkit-score --method
p_target=0.01,0.05              # minDCF priors
title="mini recipe"             # the table's title
ci=95                           # seedkit-metrics --ci level ("" = no intervals)
bootstrap=1000                  # seedkit-metrics --bootstrap resamples (speakers of data/<set>/utt2spk)
. utils/parse_options.sh || exit 1
set -euo pipefail
. utils/lib/recipe.sh
backbone=$(basename "$bdir")
sdir=$bdir/scores
# score_system SYSTEM: scores of every eval set of one system, each skipped when its stamp matches
score_system() {
  local system=$1 emb x out sig
  if [ "$system" = baseline ]; then emb=$bdir/xvectors; else emb=$bdir/$system/xvectors; fi
  for x in $eval_sets; do
    out=$sdir/$system/$x
    sig=$(key_of score "$score_method" "data/$x/trials" "$emb/eval_all/.done")
    if is_done "$out/.scored" "$sig" "$out/scores"; then
      continue
    fi
    mkdir -p "$out"
    seedkit-score --method "$score_method" "data/$x/trials" "scp:$emb/$x/xvector.scp" \
      "scp:$emb/$x/xvector.scp" "$out/scores"
    mark_done "$out/.scored" "$sig"
  done
}

# metrics_system SYSTEM: EER / minDCF (with intervals; the others paired with the baseline) of
# every eval set of one system, each skipped when its stamp matches
metrics_system() {
  local system=$1 x out sig opts
  for x in $eval_sets; do
    out=$sdir/$system/$x
    opts=()
    if [ -n "$ci" ]; then
      opts=(--ci "$ci" --bootstrap "$bootstrap" --utt2spk "data/$x/utt2spk")
      [ "$system" = baseline ] || opts+=(--compare "$sdir/baseline/$x/scores")
    fi
    sig=$(key_of metrics "$p_target" "${opts[@]}" "data/$x/trials" "data/$x/utt2spk" \
      "$out/.scored" "$sdir/baseline/$x/.scored")
    if is_done "$out/.done" "$sig" "$out/metrics.json"; then
      continue
    fi
    echo -n "$system $x: " >&2
    seedkit-metrics --p-target "$p_target" "${opts[@]}" --json "$out/metrics.json" \
      "$out/scores" "data/$x/trials" | sed -n 1,2p >&2
    mark_done "$out/.done" "$sig"
  done
}

# plot_det SET: the DET plot of one eval set (all three systems), skipped when its stamp matches
plot_det() {
  local x=$1 sig
  sig=$(key_of det $(for s in baseline "$reg_name" "$seed_name"; do echo "$sdir/$s/$x/.done"; done))
  is_done "$sdir/det/.$x.done" "$sig" "$sdir/det/$x.png" && return 0
  seedkit-plot-det --title "$x ($backbone)" --labels "baseline,regression,SEED" \
    --trials "data/$x/trials" "$sdir/baseline/$x/scores" "$sdir/$reg_name/$x/scores" \
    "$sdir/$seed_name/$x/scores" "$sdir/det/$x.png"
  mark_done "$sdir/det/.$x.done" "$sig"
}

mkdir -p "$sdir/det"
# all at once (each is a few short commands; on 2 cores this halves the stage), messages in order
in_parallel --buffer "$sdir" score_system baseline "$reg_name" "$seed_name"
in_parallel --buffer "$sdir" metrics_system baseline "$reg_name" "$seed_name"
# shellcheck disable=SC2086
in_parallel --buffer "$sdir" plot_det $eval_sets
# rows in eval-set order; SEED and regression named as such (their confs are in the title)
table_args=()
for x in $eval_sets; do
  table_args+=("baseline:$x=$sdir/baseline/$x/metrics.json"
               "regression:$x=$sdir/$reg_name/$x/metrics.json"
               "SEED:$x=$sdir/$seed_name/$x/metrics.json")
done
seedkit-results-table --baseline baseline --p-target "$p_target" --out "$sdir/RESULTS.md" \
  --title "$title" \
  "${table_args[@]}"
cp "$sdir/RESULTS.md" RESULTS.md
log "DET plots: $sdir/det/<set>.png; table: RESULTS.md (and $sdir/RESULTS.md)"
cat RESULTS.md
