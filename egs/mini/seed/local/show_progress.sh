#!/usr/bin/env bash
# local/show_progress.sh: a job runner wrapper that shows progress while the jobs run.
#
#   local/show_progress.sh <runner> [runner options] [JOB=1:N] <log> <command> [args...]
#   local/show_progress.sh --direct <log> <command> [args...]
#
# Runs "<runner> [runner options] [JOB=1:N] <log> <command> ..." (utils/run.pl or utils/slurm.pl,
# the same arguments) and, until it ends, prints to stderr a summary of the jobs' tqdm progress read
# from their logs: "<log dir>: 1234/5600 (22%)". On a terminal the line is refreshed in place every
# 2 s; otherwise a line is printed every 20 s. Exits with the runner's status. run.sh uses it as
# "$cmd" so the output of parallel jobs, which goes to their logs, is still visible.
# --direct runs <command> itself (output to <log>) in this process group, so that killing run.sh's
# process group, even with SIGKILL, also stops the command (run.pl gives each job its own group).

if [ $# -lt 3 ]; then
  echo "ERROR (show_progress.sh): $0:0: usage: $0 <runner> [options] [JOB=1:N] <log> <command>" >&2
  exit 1
fi
runner=$1
shift
args=("$@")

# Find the JOB=a:b spec and the log name after the runner's "--opt value" pairs.
first=1
last=1
jobvar=""
log=""
i=0
while [ $i -lt ${#args[@]} ]; do
  a=${args[$i]}
  case $a in
    --*=*) i=$((i + 1)) ;;
    --*) i=$((i + 2)) ;;
    *)
      if [[ $a =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
        jobvar=${BASH_REMATCH[1]}
        first=${BASH_REMATCH[2]}
        last=${BASH_REMATCH[3]}
        i=$((i + 1))
        continue
      fi
      log=$a
      break
      ;;
  esac
done

logs=()
for ((j = first; j <= last; j++)); do
  if [ -n "$jobvar" ]; then logs+=("${log//$jobvar/$j}"); else logs+=("$log"); fi
done
label=$(dirname "$log")
[ "$(basename "$label")" = log ] && label=$(dirname "$label")

# Sum of "done/total" of the latest tqdm update in every job log.
summary() {
  local l cur tot sum_cur=0 sum_tot=0 started=0
  for l in "${logs[@]}"; do
    [ -f "$l" ] || continue
    started=$((started + 1))
    read -r cur tot < <(tr '\r' '\n' < "$l" 2>/dev/null | grep -aoE '[0-9]+/[0-9]+ \[' | tail -n 1 \
      | tr '/[' '  ')
    if [ -n "${tot:-}" ]; then
      sum_cur=$((sum_cur + cur))
      sum_tot=$((sum_tot + tot))
    fi
  done
  if [ "$sum_tot" -gt 0 ]; then
    echo "$label: $sum_cur/$sum_tot ($((100 * sum_cur / sum_tot))%), ${#logs[@]} job(s)"
  else
    echo "$label: $started/${#logs[@]} job(s) started"
  fi
}

if [ "$runner" = --direct ]; then
  mkdir -p "$(dirname "$log")"
  "${args[@]:1}" > "$log" 2>&1 &
else
  "$runner" "${args[@]}" &
fi
pid=$!
trap 'kill "$pid" 2>/dev/null' INT TERM
tty=false
[ -t 2 ] && tty=true
t_last=$SECONDS
shown=""
# Whether the job has ended is looked at every 0.05 s at first, then every 0.5 s (a fixed 2 s tick
# kept each of stage 2's nine one-second jobs waiting 2.3 s); the progress line every 2 s.
delay=0.05
next_summary=$((SECONDS + 2))
while kill -0 "$pid" 2>/dev/null; do
  sleep "$delay"
  case $delay in 0.05) delay=0.1 ;; 0.1) delay=0.2 ;; *) delay=0.5 ;; esac
  kill -0 "$pid" 2>/dev/null || break
  [ "$SECONDS" -ge "$next_summary" ] || continue
  next_summary=$((SECONDS + 2))
  s=$(summary)
  if $tty; then
    printf '\r  %s\033[K' "$s" >&2
    shown=yes
  elif [ $((SECONDS - t_last)) -ge 20 ] && [ "$s" != "$shown" ]; then
    echo "  $s" >&2
    shown=$s
    t_last=$SECONDS
  fi
done
wait "$pid"
status=$?
if $tty && [ -n "$shown" ]; then
  printf '\r  %s\033[K\n' "$(summary)" >&2
fi
exit $status
