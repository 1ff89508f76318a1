# Set-up and everyday commands. Every target creates and uses .venv and installs
# everything from the project's own files.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run sim test lint typecheck unit bench clean venv

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,corpus,engines,eval]'
	touch $(STAMP)

venv: $(STAMP)

OPENB := ../shared/data/traces/alibaba-openb-2023
RUN_POLICIES := fifo:none,fifo,priority,fairshare,las,fifo:easy:silk

# The platform on the embedded default (SQLite, five demo sites, the local back end): demo
# tenants and jobs that really run; prints the URL, tokens and commands to try. Serves until
# Ctrl-C; with CI=true it stops once the demo jobs have ended. PORT=8080 by default.
PORT ?= 8080
run: $(STAMP)
	$(BIN)/silkroute demo --port $(PORT)

# Replay a GPU-cluster trace through the scheduler with every policy (openb under backlog;
# a synthetic workload where it is absent).
sim: $(STAMP)
	@if [ -d $(OPENB) ]; then \
	  $(BIN)/silkroute sim --trace $(OPENB) --load 3000 --shrink 0.5 --policy $(RUN_POLICIES) --out out/run; \
	else \
	  echo "$(OPENB) is absent: running a synthetic workload instead"; \
	  $(BIN)/silkroute sim --trace synthetic --jobs 20000 --load 1.2 --step-interval 10 --policy $(RUN_POLICIES) --out out/run; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check silkroute tests benchmarks
	$(BIN)/ruff format --check silkroute tests benchmarks docs

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck unit

# The benchmarks' side-by-side baselines: datatrove 0.10.1 (the `bench` extra) and nlp-id's
# Indonesian news sentences (nlp-id pins exact numpy/scipy/scikit-learn versions, so only its
# wheel is installed, for the data file; it is never imported).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,corpus,engines,eval,bench]'
	$(BIN)/pip install -q --no-deps nlp-id
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
