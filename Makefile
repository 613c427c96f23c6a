# The targets CI and the README call. Everything runs from the project's own venv.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup system-deps demo test lint format bench schema clean

# System binaries first: creating the venv may need python3-venv.
setup: system-deps $(VENV)/.installed

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The demo needs no browser: skip installing Chromium (only the dashboard test uses it).
demo: export RUNTALLY_SKIP_BROWSER = 1
demo: setup
	$(BIN)/runtally dev --demo

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmarks also need the `bench` extra (chDB: the ClickHouse peer), never the tests.
# Arguments: make bench BENCH_ARGS="api --events 10M"
bench: setup $(VENV)/.bench-installed
	$(PY) -m bench $(BENCH_ARGS)

$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

schema: setup
	$(PY) -m runtally.events > schema/run-event.v1.json

clean:
	rm -rf $(VENV) .runtally .pytest_cache .mypy_cache .ruff_cache
