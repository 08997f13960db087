# Sourced by run.sh after utils/parse_options.sh: every option checked (one ERROR line naming the
# option and the fix, before any work), then the names the stages use: corpus_opts and
# size_train_opts (--mini-size), cmd (cmd.sh's runner behind local/show_progress.sh), the backbone's
# weights (said now, not after the corpus is made, if they are missing), extract_opts, backbone,
# bdir, seed_name, reg_name.
# shellcheck shell=bash

. utils/lib/check_opts.sh
[ $# -eq 0 ] || die "$0" "unexpected argument '$1'; options only (see --help)"
check_stages 0 7
check_int nj 1 1024
check_int nproc 1 1024
check_int aug_rounds 1 1000
check_int seed 0
check_number crop_sec
check_probs p_target
[ -z "$t_star" ] || check_int t_star 0 100000
case $device in cpu|cuda|cuda:[0-9]*) ;;
  *) die "$0" "--device must be cpu, cuda or cuda:N, got '$device'" ;; esac
check_bools allow_random_backbone fresh_crops materialise
case $mini_size in
  default) corpus_opts=(); size_train_opts="" ;;
  tiny) corpus_opts=(--num-train-speakers 12 --train-utts-per-speaker 6 --num-eval-speakers 12
          --eval-utts-per-speaker 6 --num-babble-speakers 6 --babble-utts-per-speaker 3
          --babble-talkers 2,3 --trials-per-set 200 --noises-per-kind 2 --eval-noises-per-kind 2
          --music-per-kind 2 --eval-music-per-kind 2 --rooms-per-type 1 --eval-rooms-per-type 1
          --rirs-per-room 2 --min-dur 2 --max-dur 4)
        size_train_opts="--epochs 12" ;;
  *) die "$0" "unknown --mini-size '$mini_size'; use default or tiny" ;;
esac
for f in "$backbone_conf" "$seed_conf" "$regression_conf"; do
  [ -f "$f" ] || die "$f" "conf file not found; give an existing file"
done
# the SEED confs' keys and values now, not at stage 5 after the corpus and embeddings are made
check_seed_conf "$seed_conf"
check_seed_conf "$regression_conf"

# Jobs go through cmd.sh's runner; the wrapper shows their progress (their output is in logs).
cmd="local/show_progress.sh $train_cmd"
# The backbone: say now, not after the corpus is made, if its weights are missing.
backbone=$(basename "$backbone_conf" .yaml)
weights=$(local/check_backbone.py "$backbone_conf" "$allow_random_backbone")
extract_opts=()
if [ "$weights" = random ]; then
  backbone=${backbone}_random
  extract_opts=(--allow-random-weights true)
fi
bdir=exp/$backbone
seed_name=$(basename "$seed_conf" .yaml)
reg_name=$(basename "$regression_conf" .yaml)
