# rotaflow — every target creates .venv and installs the project when missing or stale.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
SAMPLE := configs/programs/sample

# Prefect's settings (home under var/, no telemetry, quiet logs, a longer start for its temporary server)
# are the CLI's own defaults (rotaflow/cli/__init__.py, prefect_defaults), and the tests' (tests/conftest.py):
# `make` sets none, so a command behaves the same with or without it.

.PHONY: run test lint format clean bench serve

# run and serve need the project; test, lint and bench also its development tools.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rotaflow needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(DEV_STAMP)

## run: set up, create the database and generate the sample program's first block (embedded defaults)
run: $(STAMP)
	$(BIN)/rotaflow db upgrade
	$(BIN)/rotaflow generate --program $(SAMPLE) --block 2027-B01 --out var/runs/sample-2027-B01

## serve: a local Prefect server (UI at http://$(SERVE_HOST):$(SERVE_PORT), own database: SQLite under var/prefect
##        or ROTAFLOW_PREFECT_DATABASE_URL,
##        API auth from ROTAFLOW_PREFECT_AUTH_STRING or var/prefect/auth-string), the rotaflow-process work pool,
##        every deployment of prefect.yaml and a worker; Ctrl-C stops them. `make serve SERVE_HOST=0.0.0.0` to expose.
SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 4200
serve: $(STAMP)
	$(BIN)/rotaflow serve --host $(SERVE_HOST) --port $(SERVE_PORT)

## test: set up, check the import contracts and run the whole test suite with coverage gates
## (spread over the machine's cores, at most 4 workers, each module on one worker, the longest started first)
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder
test: $(DEV_STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS) --cov --cov-report=term --cov-report=json:var/coverage.json --cov-fail-under=80
	$(BIN)/python tests/coverage_gate.py var/coverage.json

## lint: ruff, mypy and the import contracts (import-linter, [tool.importlinter] in pyproject.toml)
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy rotaflow
	$(BIN)/lint-imports --no-cache

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks (each prints a table and writes bench/results/*.json)
bench: $(DEV_STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/curtois.py
	$(BIN)/python bench/cli_flow.py
	$(BIN)/python bench/repair.py
	$(BIN)/python bench/swaps.py

clean:
	rm -rf $(VENV) var .pytest_cache htmlcov .coverage
