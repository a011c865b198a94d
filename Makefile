# Thin wrapper: the real logic lives in the `exohunter` CLI (scoring/cli.py).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements/analytics.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-unit bench lint lock env clean

## demo: create the environment, start the warehouse, load the shipped data, build the marts,
## then serve the Superset dashboards until Ctrl-C
demo: $(STAMP)
	$(BIN)/exohunter run --dashboards

## test: the whole test suite (real PostgreSQL, real dbt, real Superset, real Chromium)
test: $(STAMP)
	$(BIN)/pytest

## test-unit: the pure tests only (no database, no browser): seconds, for the edit-test loop
test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

## bench: benchmarks, printed as ratios against baselines measured in the same run
bench: $(STAMP)
	$(BIN)/exohunter bench

## lint: ruff (rules and formatting) and the import contracts of pyproject.toml (lint-imports)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## lock: re-resolve requirements/analytics.lock from pyproject.toml, and Superset's own lock
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 -o requirements/analytics.lock
	$(BIN)/uv pip compile superset/requirements.in --python-version 3.11 -o superset/requirements.lock

## env: the analytics virtualenv, installed exactly from the lock file
env: $(STAMP)

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip sync --quiet --compile-bytecode -p $(BIN)/python requirements/analytics.lock
	$(BIN)/uv pip install --quiet --no-deps -p $(BIN)/python -e .
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) .venv-superset
