# The targets CI and the README call. Everything runs from the project's own venv.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup demo test lint format bench schema clean

setup: $(VENV)/.installed
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

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

bench: setup
	$(PY) -m bench

schema: setup
	$(PY) -m runtally.events > schema/run-event.v1.json

clean:
	rm -rf $(VENV) .runtally .pytest_cache .mypy_cache .ruff_cache
