#!/usr/bin/env bash
# Runs ruff and the test suite in the project venv. "No tests collected" (pytest status 5) fails.
# Extra arguments go to pytest (e.g. -m "not slow").
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
.venv/bin/ruff check . || exit 1
.venv/bin/python -m pytest -q "$@" tests
status=$?
if [ $status -eq 5 ]; then
  echo "ERROR (run_tests.sh): no tests collected" >&2
  exit 1
fi
exit $status
