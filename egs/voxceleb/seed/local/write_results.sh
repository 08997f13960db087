#!/usr/bin/env bash
# local/write_results.sh [options] <results.md>: the RESULTS.md of run.sh stage 7. One table per
# evaluation protocol (seedkit-results-table: baseline vs SEED per test set, EER and minDCF with
# the relative change), the settings that produced them, and the DET plots.

bdir=                      # exp/<backbone>: scores under <bdir>/scores/<protocol>/<system>/<set>/
seed_name=                 # the SEED system's name (its directory under scores/<protocol>/)
test_sets="vox1_o vcmix"   # test sets, in table order
p_target_seed=0.05         # minDCF prior of the SEED protocol
p_target_wespeaker=0.01    # minDCF prior of the wespeaker protocol
backbone_conf=             # shown in the header
backbone_checkpoint=       # shown in the header ("" = the conf's)
seed_model=                # shown in the header
t_star=50                  # shown in the header
eval_crops=10              # shown in the header
eval_crop_sec=4.015        # shown in the header

help_message="Usage: $0 [options] <results.md>"
. utils/parse_options.sh || exit 1
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$bdir" ] || [ -z "$seed_name" ]; then
  echo "$help_message (needs --bdir and --seed-name)" >&2
  exit 1
fi
out=$1

describe() {
  case $1 in
    vox1_o) echo "VoxCeleb1-O cleaned" ;;
    vcmix) echo "VC-Mix (VoxConverse-SV non-target + VoxCeleb1-O target)" ;;
    voxsrc23) echo "VoxSRC-23 (the list given with --voxsrc23-trials)" ;;
    *) echo "$1" ;;
  esac
}

tmp=$out.tmp
{
  echo "# SEED on VoxCeleb: $(basename "$bdir")"
  echo
  echo "- backbone: \`$backbone_conf\`, weights \`${backbone_checkpoint:-the checkpoint named in the conf}\`"
  echo "- SEED model: \`$seed_model\`, one-step enhancement at t* = $t_star"
  echo "- test sets: $(for t in $test_sets; do printf '%s: %s; ' "$t" "$(describe "$t")"; done)"
  echo
  for protocol in seed wespeaker; do
    case $protocol in
      seed)
        p=$p_target_seed
        echo "## SEED protocol: $eval_crops x $eval_crop_sec s crops, score = -mean L2 distance" \
          "of the unit crop embeddings, minDCF p_target = $p"
        ;;
      wespeaker)
        p=$p_target_wespeaker
        echo "## wespeaker protocol: full-utterance embeddings, cosine score, minDCF p_target = $p"
        ;;
    esac
    echo
    specs=()
    for system in baseline "$seed_name"; do
      for t in $test_sets; do
        specs+=("$system:$t=$bdir/scores/$protocol/$system/$t/metrics.json")
      done
    done
    seedkit-results-table --baseline baseline --p-target "$p" "${specs[@]}"
    echo
    for t in $test_sets; do
      echo "DET ($t): \`$bdir/scores/$protocol/det_$t.png\` (and .pdf)"
      echo
    done
  done
} > "$tmp"
mv "$tmp" "$out"
