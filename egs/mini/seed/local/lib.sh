# Shell helpers for run.sh: log lines, stage timing, and stamps that tell whether a piece of work
# is already done for the current inputs (so a re-run skips it, and a changed input redoes it).
# Sourced, not executed.

log() { echo "$(date '+%F %T') [run.sh] $*" >&2; }

# Stamps (utils/lib/stage_stamps.sh, shared with the VoxCeleb recipe), under this recipe's names.
. utils/lib/stage_stamps.sh
. utils/lib/cores.sh

# signature ARG...: one sha256 over the arguments. An argument that names a regular file adds its
# path and content; any other argument adds its text. Stamps of earlier steps are passed as files,
# so a step redone with different results invalidates everything computed from it.
signature() { stamp_key arg "$@"; }

# up_to_date STAMP SIG [OUTPUT...]: true when STAMP records SIG and every OUTPUT exists.
up_to_date() { stamp_matches "$@"; }

# mark_done STAMP SIG: record (atomically) that the work behind STAMP is complete for SIG.
mark_done() { stamp_write "$1" "$2"; }

# Stage timing: stage_begin N NAME ... stage_end. Times are printed and kept in $stage_times.
stage_times=""
stage_begin() {
  _stage_n=$1
  shift
  _stage_name="$*"
  _stage_t0=$(date +%s.%N)
  log "stage $_stage_n: $_stage_name"
}
stage_end() {
  local dt
  dt=$(echo "$(date +%s.%N) $_stage_t0" | awk '{printf "%.1f", $1 - $2}')
  log "stage $_stage_n done in ${dt} s"
  stage_times+="stage $_stage_n ($_stage_name): ${dt} s"$'\n'
}
