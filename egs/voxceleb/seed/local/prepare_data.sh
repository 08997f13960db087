#!/usr/bin/env bash
# local/prepare_data.sh [options]: the corpus work of run.sh, its stages 0-2 (run.sh passes its
# options through; see run.sh --help for each):
#   0 corpora: the plan (what is on disk, linked or downloaded), then download with lhotse or link
#     the copies on disk                                                       -> $corpora/
#   1 lhotse manifests -> Kaldi data dirs; trial lists        -> $data/local/<set>/, $data/trials/
#   2 16 kHz audio: every file's header checked against --corpus-rates; 16 kHz files read where
#     they lie, others resampled in memory when read (--materialise-16k true: 16 kHz mono wav
#     copies); SEED's training set and one evaluation set holding every test utterance
#                                               -> $data/<set>/, ($data/audio/), $data/train, $data/eval
stage=0
stop_stage=2
corpora=corpora
data=data
corpora_on_disk=
voxceleb1_on_disk=
musan_on_disk=
rirs_noises_on_disk=
librittsr_on_disk=
librilight_on_disk=
voxconverse_sv_on_disk=
librittsr_parts="train-clean-100 train-clean-360"
librilight_url=
librilight_md5=
vox1_trials=
voxsrc23_trials=
voxsrc23_root=
train_corpora="librittsr librilight"
librilight_segments=false
test_sets="vox1_o vcmix"
nj=8
eval_only=false
materialise_16k=false
corpus_rates=conf/corpus_rates.yaml

. ./cmd.sh || exit 1
. utils/parse_options.sh || exit 1
set -euo pipefail
. utils/lib/recipe.sh

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
# data dir set -> the corpus whose rate conf/corpus_rates.yaml gives
corpus_of_set() {
  case $1 in
    librittsr_*) echo librittsr ;; librilight_*) echo librilight ;; rirs) echo rirs_noises ;;
    voxceleb1_test) echo voxceleb1 ;; *) echo "$1" ;;
  esac
}
# the rate conf/corpus_rates.yaml gives a set's corpus (dies naming the conf when it has none)
rate_of_set() {
  local c r
  c=$(corpus_of_set "$1")
  r=$(awk -v c="$c:" '$1 == c { print $2 }' "$corpus_rates")
  [[ $r =~ ^[1-9][0-9]*$ ]] || die "$corpus_rates" "no sample rate for corpus '$c' (a line '$c: <Hz>')"
  echo "$r"
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
    if is_done "$stamp/.done" "$key" "${outputs[@]}"; then skip "$stamp"; continue; fi
    run_job "$train_cmd" "$data/local/log/prepare_$c.log" \
      seedkit-prepare-corpus --force "${opts[@]}" "$c" "$corpora/$d" "$data/local" "${parts[@]}"
    mark_done "$stamp/.done" "$key"
  done

  key=$(key_of trials "$test_sets" "$data/local/.prepare/voxceleb1/.done" \
    $(in_list vcmix $test_sets && echo "$data/local/.prepare/voxconverse_sv/.done"))
  if is_done "$data/trials/.done" "$key"; then
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
    mark_done "$data/trials/.done" "$key"
  fi
  if [ -n "$voxsrc23_trials" ]; then
    root=${voxsrc23_root:-$corpora/voxceleb1/wav}
    key=$(key_of voxsrc23 "$voxsrc23_trials" "$(cd "$root" 2>/dev/null && pwd)" \
      "$corpora/.seedkit_voxceleb1.complete")
    if is_done "$data/local/voxsrc23/.done" "$key" "$data/local/voxsrc23/trials"; then
      skip "$data/local/voxsrc23"
    else
      rm -rf "$data/local/voxsrc23"
      local/prepare_voxsrc23.py "$voxsrc23_trials" "$root" "$data/local/voxsrc23" >&2 || exit 1
      mark_done "$data/local/voxsrc23/.done" "$key"
    fi
    cmp -s "$data/local/voxsrc23/trials" "$data/trials/voxsrc23" 2>/dev/null || \
      cp "$data/local/voxsrc23/trials" "$data/trials/voxsrc23"
  fi
  stage_end
fi

# ---- stage 2: 16 kHz audio (in place, or mono wav copies); training and evaluation sets -------
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  [ -f "$corpus_rates" ] || die "$corpus_rates" "no corpus rates file (--corpus-rates)"
  if $materialise_16k; then
    stage_begin 2 "resampling to 16 kHz mono wav copies ($nj jobs)"
  else
    stage_begin 2 "16 kHz audio read in place (no copies; --materialise-16k true makes them)"
  fi
  for x in $resample_sets; do
    [ -f "$data/local/$x/wav.scp" ] || die "$data/local/$x/wav.scp" "not prepared; run stage 1 first"
    rate=$(rate_of_set "$x")
    mode=()  # the copies keep the key they had before reading in place existed
    $materialise_16k || mode=(in-place)
    key=$(key_of resample 16000 "${mode[@]}" "$data/local/$x/wav.scp" "$data/local/$x/utt2spk")
    if is_done "$data/$x/.done" "$key" "$data/$x/wav.scp"; then skip "$data/$x"; continue; fi
    in_place=true
    $materialise_16k && in_place=false
    utils/resample_data_dir.sh --cmd "$train_cmd" --nj "$nj" --sample-rate 16000 \
      --in-place "$in_place" --source-rate "$rate" "$data/local/$x" "$data/$x" "$data/audio/$x"
    mark_done "$data/$x/.done" "$key"
  done
  # SEED's training set and one evaluation set holding every test utterance (embedded once)
  for dest in $combined_sets; do
    srcs=()
    if [ "$dest" = train ]; then parts_of_dest=$train_parts; else parts_of_dest=$eval_parts; fi
    for x in $parts_of_dest; do srcs+=("$data/$x"); done
    key=$(key_of combine "${srcs[@]/%//.done}")
    if is_done "$data/$dest/.done" "$key" "$data/$dest/wav.scp"; then skip "$data/$dest"; continue; fi
    utils/combine_data.sh "$data/$dest" "${srcs[@]}"
    mark_done "$data/$dest/.done" "$key"
  done
  stage_end
fi

printf '%s' "$stage_summary" >&2
