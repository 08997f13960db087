# Shared by utils/augment_data_dir.sh, utils/resample_data_dir.sh and utils/extract_embeddings.sh
# (sourced, not executed): size the job split, run a seedkit tool as a JOB=1:N array through a job
# runner, then once more without --job to merge. The caller sources utils/lib/recipe.sh (die: the
# one-line seedkit error) and sets $prog (its name in LOG lines) before calling.

# cap_nj FILE WHAT: sets $n_items to the number of lines of FILE (dies "no WHAT" when there are
# none) and lowers $nj to it, with a LOG line, when there are fewer items than jobs.
cap_nj() {
  local file=$1 what=$2
  n_items=$(wc -l < "$file")
  [ "$n_items" -gt 0 ] || die "$file" "no $what"
  if [ "$nj" -gt "$n_items" ]; then
    echo "LOG ($prog): only $n_items $what: using --nj $n_items instead of $nj" >&2
    nj=$n_items
  fi
}

# run_split_merge CMD NJ LOG_DIR NAME WHAT TOOL ARG...: runs "TOOL ARG... --job JOB --nj NJ" through
# CMD (run.pl or "slurm.pl <options>", word-split) with logs LOG_DIR/NAME.JOB.log; if a job fails,
# prints the first ERROR line of the logs and dies ("WHAT jobs failed"). Then runs "TOOL ARG..."
# (the merge step) with its stderr in LOG_DIR/NAME.merge.log, whose last line is printed if it
# fails (exit 1). The tools take --job/--nj anywhere among their arguments (argparse).
run_split_merge() {
  local cmd=$1 nj=$2 logdir=$3 name=$4 what=$5 log err
  shift 5
  # shellcheck disable=SC2086
  if ! $cmd JOB=1:$nj "$logdir/$name.JOB.log" "$@" --job JOB --nj "$nj"; then
    job_error_die "$logdir" "$name" "$what jobs failed"
  fi
  "$@" 2> "$logdir/$name.merge.log" || { tail -n 1 "$logdir/$name.merge.log" >&2; exit 1; }
}

# job_error_die LOG_DIR NAME WHAT: one ERROR line for failed jobs logged in LOG_DIR/NAME.*.log: the
# first job's own error ("<file>:<line>: <message>", under this script's name) with WHAT and where
# the logs are, or WHAT alone when no job printed an ERROR line. Exits 1 (through die).
job_error_die() {
  local logdir=$1 name=$2 what=$3 log err
  for log in "$logdir/$name".*.log; do
    err=$(grep -a -o -m1 'ERROR (.*' "$log" || true)
    if [ -n "$err" ]; then
      err=${err#ERROR (*): }
      echo "ERROR ($(basename "$0")): $err ($what; first failure in $log)" >&2
      exit 1
    fi
  done
  die "$logdir/$name.1.log" "$what; see the logs in $logdir/"
}
