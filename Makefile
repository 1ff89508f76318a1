# Set-up and everyday commands. Every target creates and uses .venv and installs
# everything from the project's own files.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,corpus]'
	touch $(STAMP)

venv: $(STAMP)

# The platform's main job on the embedded default: replay a workload through the scheduler.
run: $(STAMP)
	$(BIN)/silkroute sim --trace auto --policy fifo,priority,fairshare,las --load 4 --out out/run

lint: $(STAMP)
	$(BIN)/ruff check silkroute tests benchmarks
	$(BIN)/ruff format --check silkroute tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
