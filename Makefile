# The two commands of the README. Both install what is missing first (tools/install.sh is
# idempotent: a second run costs seconds).
SHELL := /bin/bash
.PHONY: install mini test test-fast

install:
	@bash tools/install.sh

## Run the embedded mini recipe end to end (synthesised corpus, 2 CPU cores).
mini: install
	cd egs/mini/seed && ./run.sh

## Run ruff and the whole test suite (slow end-to-end tests included).
test: install
	@bash tools/run_tests.sh

## While iterating: skip tests marked slow.
test-fast: install
	@bash tools/run_tests.sh -m "not slow"
