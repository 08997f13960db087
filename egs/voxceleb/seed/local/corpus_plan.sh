#!/usr/bin/env bash
# local/corpus_plan.sh [--corpora DIR] [--librittsr-parts 'P ...'] [--eval-only true|false]
#   CORPUS=[ON_DISK_DIR]...
# Printed by run.sh before stage 0: for each corpus it needs, whether it is already complete, read
# from disk (ON_DISK_DIR) or downloaded (with the approximate download size), and which corpora
# are skipped.
# Sizes are the published archives' sizes, rounded; nothing is downloaded here.
set -euo pipefail
corpora=corpora
librittsr_parts="train-clean-100 train-clean-360"
eval_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --corpora) corpora=$2; shift 2 ;;
    --librittsr-parts) librittsr_parts=$2; shift 2 ;;
    --eval-only) eval_only=$2; shift 2 ;;
    *) break ;;
  esac
done

size_of() {
  case $1 in
    voxceleb1) echo "~1 GB (vox1_test_wav.zip; the dev part is never read)" ;;
    musan) echo "~11 GB" ;;
    rirs_noises) echo "~1.2 GB" ;;
    librittsr)
      local n=0 p
      for p in $librittsr_parts; do
        case $p in train-clean-100) n=$((n + 8)) ;; train-clean-360) n=$((n + 28)) ;; *) n=$((n + 30)) ;; esac
      done
      echo "~$n GB ($librittsr_parts)" ;;
    librilight) echo "~35 GB (small.tar)" ;;
    voxconverse_sv) echo "size not published (the SEED authors' zip)" ;;
  esac
}

echo "$(date '+%F %T') run.sh: corpora plan ($([ "$eval_only" = true ] && echo "evaluation only" || echo "training and evaluation")):" >&2
for arg in "$@"; do
  c=${arg%%=*}
  src=${arg#*=}
  if [ -f "$corpora/.seedkit_$c.complete" ]; then
    what="complete in $corpora (nothing to fetch)"
  elif [ -n "$src" ]; then
    what="read from $src (linked, not downloaded)"
  else
    what="download, $(size_of "$c")"
  fi
  echo "  $c: $what" >&2
done
if [ "$eval_only" = true ]; then
  echo "  skipped: musan, rirs_noises, librittsr, librilight (training only; stages 3 and 5 do not run)" >&2
fi
