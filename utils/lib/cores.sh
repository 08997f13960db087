# Sourced by the recipes: machine_cores prints the CPU cores this process may use (CPU affinity
# and cgroup cpusets, as nproc counts them), whatever OMP_NUM_THREADS / OMP_THREAD_LIMIT say.
# nproc alone obeys those variables, and the recipes set OMP_NUM_THREADS=1 for every job, so a
# share "cores / jobs" computed with it was always 1 (and run.pl ran --nj 2 one job at a time).
machine_cores() {
  local n
  n=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null) \
    || n=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || n=1
  [[ $n =~ ^[1-9][0-9]*$ ]] || n=1
  echo "$n"
}
