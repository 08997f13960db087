# Environment of the VoxCeleb SEED recipe; sourced by run.sh (source it yourself to run the tools
# by hand). The recipe lives in egs/voxceleb/seed of a seedkit checkout: the seedkit-* console
# scripts are in the checkout's .venv/bin (tools/install.sh makes it), the Kaldi-style helpers in
# utils/ (a symlink to the checkout's utils/). With seedkit installed in another environment
# (pip install), activate that environment first: a missing .venv is simply not added to PATH.
# readlink -f: a copy of this file that is a symlink still finds the checkout.
SEEDKIT_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
export SEEDKIT_ROOT
[ -d "$SEEDKIT_ROOT/.venv/bin" ] && export PATH=$SEEDKIT_ROOT/.venv/bin:$PATH
export PATH=$SEEDKIT_ROOT/utils:$PATH
export LC_ALL=C                  # Kaldi tables are sorted in the C locale
export PYTHONIOENCODING=UTF-8
export PYTHONUNBUFFERED=1        # log lines reach the job logs as they happen
# One CPU thread per process unless you say otherwise: run.pl runs several jobs at once, and the
# GPU does the heavy work. Raise it (e.g. OMP_NUM_THREADS=8 ./run.sh) for CPU-only extraction.
# run.sh gives each of its parallel jobs and torchrun workers at most cores / jobs threads
# (utils/lib/recipe.sh job_threads): more threads than cores makes OpenMP spin-wait.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-$OMP_NUM_THREADS}
