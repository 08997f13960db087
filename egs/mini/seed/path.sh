# Environment for the mini recipe; sourced by run.sh (and by you, to run the tools by hand).
# The recipe directory is egs/mini/seed inside the seedkit checkout: the console scripts live in
# the checkout's .venv/bin, the Kaldi-style helpers in utils/ (a symlink to the checkout's utils/).
# readlink -f: a working copy made of symlinks to these files (as the tests make) finds the checkout.
SEEDKIT_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
export SEEDKIT_ROOT
export PATH=$SEEDKIT_ROOT/.venv/bin:$SEEDKIT_ROOT/utils:$PATH
export LC_ALL=C                  # Kaldi tables are sorted in the C locale
export PYTHONIOENCODING=UTF-8
export PYTHONUNBUFFERED=1        # log lines reach the job logs as they happen
# Two cores: two threads for a process running alone (torch takes its thread count from these).
# run.sh gives parallel jobs and torchrun workers one share each (cores / jobs), as more threads
# than cores makes OpenMP spin-wait.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-$OMP_NUM_THREADS}
