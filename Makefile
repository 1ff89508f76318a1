# Set-up and everyday commands. Every target creates and uses .venv and installs
# everything from the project's own files.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean venv

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,corpus,engines]'
	touch $(STAMP)

venv: $(STAMP)

OPENB := ../shared/data/traces/alibaba-openb-2023
RUN_POLICIES := fifo:none,fifo,priority,fairshare,las,fifo:easy:silk

# The platform's main job on the embedded default: replay a GPU-cluster trace through the
# scheduler with every policy (openb under backlog; a synthetic workload where it is absent).
run: $(STAMP)
	@if [ -d $(OPENB) ]; then \
	  $(BIN)/silkroute sim --trace $(OPENB) --load 3000 --shrink 0.5 --policy $(RUN_POLICIES) --out out/run; \
	else \
	  echo "$(OPENB) is absent: running a synthetic workload instead"; \
	  $(BIN)/silkroute sim --trace synthetic --jobs 20000 --load 1.2 --step-interval 10 --policy $(RUN_POLICIES) --out out/run; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check silkroute tests benchmarks
	$(BIN)/ruff format --check silkroute tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
