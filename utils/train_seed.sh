#!/usr/bin/env bash
# utils/train_seed.sh [options] -- <seedkit-train-seed arguments...>
# seedkit-train-seed under torchrun: one node standalone (default), or one node of a multi-node
# run (--nnodes N --rdzv-endpoint HOST:PORT, the same on every node). torchrun puts its workers in
# sessions of their own: were torchrun killed (SIGKILL, a cancelled job), they would train on as
# orphans beside a resumed run; setpriv (util-linux) makes each worker die with torchrun.
# Each worker's CPU threads come from OMP_NUM_THREADS (the recipe sets its share, job_threads).
nproc_per_node=1   # torchrun processes (GPUs) per node
nnodes=1           # nodes; > 1 needs --rdzv-endpoint
rdzv_endpoint=     # HOST:PORT of the rendezvous ("" with one node: standalone)
rdzv_id=seed       # rendezvous id (the same on every node of one run)
rdzv_backend=c10d  # rendezvous backend
help_message="Usage: $0 [options] -- <seedkit-train-seed arguments...>"
. "$(dirname "$(readlink -f "$0")")/parse_options.sh" || exit 1
. "$(dirname "$(readlink -f "$0")")/lib/recipe.sh"
set -euo pipefail
if [ "$nnodes" -eq 1 ] && [ -z "$rdzv_endpoint" ]; then
  launcher=(torchrun --standalone --nnodes 1 --nproc-per-node "$nproc_per_node")
else
  [ -n "$rdzv_endpoint" ] || die "$0" "--nnodes $nnodes needs --rdzv-endpoint HOST:PORT"
  launcher=(torchrun --nnodes "$nnodes" --nproc-per-node "$nproc_per_node"
            --rdzv-backend "$rdzv_backend" --rdzv-endpoint "$rdzv_endpoint" --rdzv-id "$rdzv_id")
fi
trainer=("$(command -v seedkit-train-seed)") || die "$0" "seedkit-train-seed not on PATH; source path.sh"
if command -v setpriv >/dev/null 2>&1; then trainer=(setpriv --pdeathsig KILL -- "${trainer[@]}"); fi
echo "# ${launcher[*]} --no-python ${trainer[*]} $*"  # the job log shows the torchrun command
exec "${launcher[@]}" --no-python "${trainer[@]}" "$@"
