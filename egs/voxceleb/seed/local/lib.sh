# Shell helpers of the VoxCeleb SEED run.sh (sourced): log lines, errors, and the ".done" stamps
# that let a re-run skip finished work.
#
# Each piece of work writes <dir>/.done when it has finished, holding a key: the sha256 of what the
# work depends on (its options, and the .done stamps of the work it reads, so redoing an earlier
# step invalidates everything after it). A re-run with the same key skips the work; a different
# key (changed option, conf or input) redoes it.

log() { echo "$(date '+%F %T') run.sh: $*" >&2; }

# die FILE MESSAGE...: the seedkit one-line error ("ERROR (run.sh): FILE:0: MESSAGE"), exit 1.
die() {
  local f=$1
  shift
  echo "ERROR (run.sh): $f:0: $*" >&2
  exit 1
}

# The stamps (utils/lib/stage_stamps.sh, shared with the mini recipe), as <dir>/.done.
. utils/lib/stage_stamps.sh
. utils/lib/cores.sh

# key_of ARG...: sha256 over the arguments; an argument naming a regular file contributes its
# name and content, any other argument its text.
key_of() { stamp_key text "$@"; }

# done_with DIR KEY [OUTPUT...]: true when DIR/.done holds KEY and every OUTPUT exists.
done_with() {
  local dir=$1
  shift
  stamp_matches "$dir/.done" "$@"
}

# mark_done DIR KEY: record (atomically) that the work in DIR is complete for KEY.
mark_done() { stamp_write "$1/.done" "$2"; }

# skip DIR: the log line of skipped work (the tests look for "skipping").
skip() { log "$1 is complete (.done matches); skipping"; }

# Stage timing: stage_begin N TEXT ... stage_end; the summary is printed at the end of run.sh.
stage_summary=""
stage_begin() {
  _stage=$1
  shift
  _stage_text="$*"
  _stage_t0=$(date +%s)
  log "=== stage $_stage: $_stage_text"
}
stage_end() {
  local dt=$(( $(date +%s) - _stage_t0 ))
  log "=== stage $_stage done in ${dt} s"
  stage_summary+="  stage $_stage ($_stage_text): ${dt} s"$'\n'
}

# job_threads N: CPU threads (OMP_NUM_THREADS, MKL_NUM_THREADS, torch) for each of N processes
# running at once: OMP_NUM_THREADS (path.sh: 1 unless you raise it), capped on the local back end
# at this machine's cores / N (at least 1), as more threads than cores makes OpenMP spin-wait
# (the mini recipe's torch training ran 10x slower with 2 x 2 threads on 2 cores). Slurm jobs run
# on other machines: no cap (cmd.sh's --num-threads sizes them).
job_threads() {
  local t=${OMP_NUM_THREADS:-1} share
  [[ $t =~ ^[1-9][0-9]*$ ]] || t=1
  if [ "$cmd_backend" = local ]; then
    share=$(( $(machine_cores) / $1 ))
    [ "$share" -ge 1 ] || share=1
    [ "$t" -le "$share" ] || t=$share
  fi
  echo "$t"
}

# in_list WORD LIST...: true when WORD is one of the words of LIST.
in_list() {
  local w=$1 x
  shift
  for x in $*; do
    [ "$x" = "$w" ] && return 0
  done
  return 1
}
