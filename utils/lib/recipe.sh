# Shared by both recipes' run.sh and local/*.sh (sourced, not executed): log and error lines, stage
# timing, the ".done" stamps that let a re-run skip finished work, and each job's thread share.
#
# A stamp is a file holding one key: the sha256 of what the work depends on (its options, and the
# stamps of the work it reads, so redoing an earlier step invalidates everything after it). A
# re-run with the same key skips the work; a different key (changed option, conf or input) redoes it.
#
#   key=$(key_of extract "$conf" "$seed" "$data/train/.done")
#   if is_done "$dir/.done" "$key" "$dir/xvector.scp"; then skip "$dir"; else ...; mark_done "$dir/.done" "$key"; fi

# log MESSAGE...: a time-stamped line on stderr, under the script's name.
log() { echo "$(date '+%F %T') [$(basename "$0")] $*" >&2; }

# die FILE MESSAGE...: the seedkit one-line error "ERROR (<prog>): FILE:0: MESSAGE"; exit 1.
die() {
  local f=$1
  shift
  [ "$f" != "$0" ] || f=$(basename "$0")
  echo "ERROR ($(basename "$0")): $f:0: $*" >&2
  exit 1
}

# need_args N NAMES "$@": unless given exactly N arguments, prints $help_message and dies
# "expected N arguments (NAMES), got M".
need_args() {
  local n=$1 names=$2
  shift 2
  [ $# -ne "$n" ] || return 0
  echo "$help_message" >&2
  die "$0" "expected $n arguments ($names), got $#"
}

# need_tool NAME: dies unless the seedkit tool NAME is on PATH.
need_tool() {
  command -v "$1" >/dev/null 2>&1 || die "$0" "$1 not on PATH; source path.sh or run tools/install.sh"
}

# augment_policy CONF: stage 3's augmentation policy option into the array policy: empty for CONF
# "" (the release's; the stage key stays what it was before policies), else (--augment-conf CONF);
# dies naming CONF when it is not a file.
augment_policy() {
  policy=()
  [ -n "$1" ] || return 0
  [ -f "$1" ] || die "$1" \
    "augmentation policy not found; give a file like conf/augment_release.yaml (--augment-conf)"
  policy=(--augment-conf "$1")
}

# key_of ARG...: one sha256 over the arguments. An argument that names a regular file adds its path
# and content ("file PATH SHA256"); any other argument adds its text ("text TEXT").
key_of() {
  local a
  for a in "$@"; do
    if [ -f "$a" ]; then
      printf 'file %s %s\n' "$a" "$(sha256sum < "$a" | cut -d' ' -f1)"
    else
      printf 'text %s\n' "$a"
    fi
  done | sha256sum | cut -d' ' -f1
}

# is_done STAMP KEY [OUTPUT...]: true when the file STAMP holds KEY and every OUTPUT exists.
is_done() {
  local stamp=$1 key=$2 out
  shift 2
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] || return 1
  for out in "$@"; do
    [ -e "$out" ] || return 1
  done
}

# mark_done STAMP KEY: record (atomically: STAMP.tmp, then rename) that the work is complete for
# KEY; creates STAMP's directory. A failed write (disk full) removes STAMP.tmp and dies.
mark_done() {
  mkdir -p "$(dirname "$1")" || die "$1" "cannot create the stamp's directory"
  if ! { printf '%s\n' "$2" > "$1.tmp"; } 2>/dev/null || ! mv "$1.tmp" "$1"; then
    rm -f "$1.tmp"
    die "$1" "cannot write this stamp (disk full?); free space and run again"
  fi
}

# skip WHAT: the log line of skipped work (the tests look for "up to date; skipping").
skip() { log "$1 is up to date; skipping"; }

# in_list WORD LIST...: true when WORD is one of the words of LIST.
in_list() {
  local w=$1 x
  shift
  for x in $*; do
    [ "$x" = "$w" ] && return 0
  done
  return 1
}

stage_begin() {
  _stage=$1
  shift
  _stage_text="$*"
  _stage_t0=$(date +%s.%N)
  log "=== stage $_stage: $_stage_text"
}
# stage_begin N TEXT ... stage_end: the stage's log lines; stage_summary collects the times.
stage_summary=""
stage_end() {
  local dt
  dt=$(echo "$(date +%s.%N) $_stage_t0" | awk '{printf "%.1f", $1 - $2}')
  log "=== stage $_stage done in ${dt} s"
  stage_summary+="  stage $_stage ($_stage_text): ${dt} s"$'\n'
}

# machine_cores: the CPU cores this process may use (utils/lib/cores.sh).
. "$(dirname "${BASH_SOURCE[0]}")/cores.sh"

# job_threads N: CPU threads (OMP_NUM_THREADS, MKL_NUM_THREADS, torch) for each of N processes
# running at once: OMP_NUM_THREADS (path.sh's default unless you set it), capped on the local back
# end at this machine's cores / N (at least 1), as more threads than cores makes OpenMP spin-wait
# (torch training ran 10x slower with 2 x 2 threads on 2 cores). Slurm jobs run on other machines:
# no cap (cmd.sh's --num-threads sizes them).
job_threads() {
  local t=${OMP_NUM_THREADS:-1} share
  [[ $t =~ ^[1-9][0-9]*$ ]] || t=1
  if [ "${cmd_backend:-local}" = local ]; then
    share=$(( $(machine_cores) / $1 ))
    [ "$share" -ge 1 ] || share=1
    [ "$t" -le "$share" ] || t=$share
  fi
  echo "$t"
}

# run_job RUNNER LOG COMMAND...: one job through cmd.sh's runner; on failure its first ERROR line
# (the job's own "<file>:<line>: <what>") becomes this script's one line, else the log's tail.
run_job() {
  local runner=$1 logf=$2 err
  shift 2
  # shellcheck disable=SC2086
  if ! $runner "$logf" "$@"; then
    err=$(grep -a -o -m1 'ERROR (.*' "$logf" || true)
    if [ -n "$err" ]; then
      echo "ERROR ($(basename "$0")): ${err#ERROR (*): } (job failed; log: $logf)" >&2
      exit 1
    fi
    tail -n 5 "$logf" >&2 || true
    die "$logf" "job failed; see this log"
  fi
}

# in_parallel [--buffer DIR] FUNC ARG...: "FUNC ARG" for every ARG at once, in the background (give
# each a share of the cores: job_threads <number of ARGs>); waits for all of them. With --buffer,
# each one's stderr is kept and shown afterwards in ARG order (short runs whose lines would
# interleave); without, their output is shown as it comes. The buffers are files in a private
# folder under $TMPDIR (/tmp), DIR/.FUNC.ARG.log only when none can be made there: on a disk that
# fills up under DIR they would lose the runs' messages, the ERROR line saying so included. Exits
# 1 if any run failed (its own ERROR line is in what was shown), after all have ended.
in_parallel() {
  local buffer= own_buffer= func a failed=0 ok i=0 pids=()
  if [ "$1" = --buffer ]; then
    mkdir -p "$2"
    if own_buffer=$(mktemp -d "${TMPDIR:-/tmp}/in_parallel.XXXXXX" 2>/dev/null); then
      buffer=$own_buffer
    else
      buffer=$2
    fi
    shift 2
  fi
  func=$1
  shift
  for a in "$@"; do
    if [ -n "$buffer" ]; then "$func" "$a" 2> "$buffer/.$func.$a.log" & else "$func" "$a" & fi
    pids+=($!)
  done
  for a in "$@"; do
    ok=1
    wait "${pids[$i]}" || { failed=1; ok=0; }
    if [ -n "$buffer" ]; then
      cat "$buffer/.$func.$a.log" >&2 2>/dev/null || true
      if [ "$ok" -eq 0 ] && [ ! -s "$buffer/.$func.$a.log" ]; then
        echo "ERROR ($(basename "$0")): $func $a failed; its messages could not be kept in" \
          "$buffer (disk full?)" >&2
      fi
      rm -f "$buffer/.$func.$a.log"
    fi
    i=$((i + 1))
  done
  [ -z "$own_buffer" ] || rmdir "$own_buffer" 2>/dev/null || true
  [ "$failed" -eq 0 ] || exit 1
}

# subset_scp KEYS SRC_SCP OUT_SCP: the lines of SRC_SCP whose key is a key (first field) of KEYS
# (utils/filter_scp.pl), written atomically; dies unless SRC_SCP has every key of KEYS.
subset_scp() {
  mkdir -p "$(dirname "$3")"
  "$(dirname "${BASH_SOURCE[0]}")/../filter_scp.pl" "$1" "$2" > "$3.tmp"
  [ "$(wc -l < "$3.tmp")" -eq "$(wc -l < "$1")" ] || \
    die "$2" "lacks keys of $1 ($(wc -l < "$3.tmp") of $(wc -l < "$1")); rerun the stage that wrote it"
  mv "$3.tmp" "$3"
}

# file_id FILE: what identifies a (possibly large) file for a stamp: its size and mtime ("none"
# for "").
file_id() { [ -z "$1" ] && echo none || ls -lL --time-style=+%s "$1" | awk '{print $5, $6, $7}'; }

# lock_workdir DIR [NAME]: one run per recipe directory. Takes an exclusive flock on DIR/NAME.lock
# (NAME: "run") for the rest of the recipe; a second run.sh dies at once naming the holder's PID
# and start time. The lock is held through a file descriptor that the recipe's processes inherit,
# so it is released when the last of them ends: nothing stale is left by a killed run. The lock
# file stays empty and is never rewritten (a re-run that finds everything done changes no file);
# the holder is found as the oldest process that has it open (/proc/*/fd). A watchdog
# (utils/lib/recipe_watchdog.pl, in its own session) stops what is left of the recipe's processes
# once the recipe itself is gone (SIGKILL included), so a killed run.sh leaves no stage running.
# When DIR did not exist and the run ends with nothing in it but the lock (a stage's pre-flight
# refused the inputs), DIR is removed again, still under the lock, so a failed run leaves no exp
# dir behind; a run that opened the lock file just before it was removed finds, once locked, that
# the path no longer names the file it holds, and takes the lock again on a new file.
lock_workdir() {
  local dir=$1 lock="$1/${2:-run}.lock" abs pids holder="" tries
  [ -d "$dir" ] && seedkit_lock_made_dir=false || seedkit_lock_made_dir=true
  for tries in 1 2 3; do
    mkdir -p "$dir" || die "$dir" "cannot create the directory for the run lock"
    exec {seedkit_lock_fd}<>"$lock" || die "$lock" "cannot open the run lock; check the permissions"
    flock -n "$seedkit_lock_fd" || break
    # locked: is the path still the file this descriptor holds (not one removed meanwhile)?
    [ "$(stat -L -c %d:%i "$lock" 2>/dev/null)" = \
      "$(stat -L -c %d:%i "/proc/$$/fd/$seedkit_lock_fd")" ] && break
    exec {seedkit_lock_fd}>&-
  done
  if ! flock -n "$seedkit_lock_fd"; then
    abs=$(readlink -f "$lock")
    pids=$(find /proc/[0-9]*/fd -maxdepth 1 -lname "$abs" 2>/dev/null | cut -d/ -f3 | grep -vx "$$" \
      | sort -u | paste -sd, || true)
    [ -z "$pids" ] || holder=$(ps -ww -o pid=,lstart=,args= --sort=start_time -p "$pids" 2>/dev/null \
      | head -n 1 | awk '{c = $7; for (i = 8; i <= NF && i <= 9; i++) c = c " " $i;
                          printf "pid %s, started %s %s %s %s %s: %s", $1, $2, $3, $4, $5, $6, c}')
    die "$lock" "another run holds this recipe directory (${holder:-a process of another user or" \
      "host}); wait for it to end or stop it (its lock is released when it ends, even when killed)"
  fi
  seedkit_lock_file=$lock
  trap release_made_lock_dir EXIT
  setsid "$(dirname "${BASH_SOURCE[0]}")/recipe_watchdog.pl" "$$" \
    </dev/null >/dev/null 2>&1 {seedkit_lock_fd}>&- &
}

# release_made_lock_dir: the EXIT trap of lock_workdir: removes the directory it made when the run
# left nothing in it but the lock file (the lock is still held while it does).
release_made_lock_dir() {
  local dir
  $seedkit_lock_made_dir || return 0
  dir=$(dirname "$seedkit_lock_file")
  [ -z "$(ls -A "$dir" 2>/dev/null | grep -vxF "$(basename "$seedkit_lock_file")")" ] || return 0
  rm -f "$seedkit_lock_file" && rmdir "$dir" 2>/dev/null || true
}
