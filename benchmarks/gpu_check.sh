#!/usr/bin/env bash
# benchmarks/gpu_check.sh [--quick] [--device cuda|cuda:N|cpu]
# The CUDA paths of seedkit in one table (benchmarks/gpu_check.py): equivalence with the original
# code on the device, extraction crops/s (fp32, bf16), torchrun training pairs/s, the steady-state
# training lines of benchmarks/bench_train.py, enhancement emb/s. On one GPU it takes a few minutes; --quick is the CPU smoke run CI does
# (tests/benchmarks/test_gpu_check.py) so the script cannot rot. Run it from the repository root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$root/.venv/bin/python
[ -x "$python" ] || python=$(command -v python3)
[ -n "$python" ] || { echo "ERROR (gpu_check.sh): no python; run tools/install.sh" >&2; exit 1; }
export PATH=$root/.venv/bin:$PATH
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/# /'
fi
exec "$python" "$root/benchmarks/gpu_check.py" "$@"
