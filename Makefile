# The two commands a newcomer needs:  make demo  (set up, start the mesh)  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint unit bench up down status reset clean

setup: $(VENV)/.installed  ## install everything: prerequisites check, virtualenv, the project

$(VENV)/.installed: pyproject.toml platform/scripts/ensure-prerequisites.sh
	@platform/scripts/ensure-prerequisites.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

demo: setup  ## start the mesh on the embedded stack and show where everything is
	$(BIN)/mesh up
	$(BIN)/mesh status

test: setup lint  ## lint, type-check, then every test (starts and stops its own servers)
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check platform tests bench
	$(BIN)/ruff format --check platform tests bench
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit

bench: setup  ## start-up time and memory of the stack; results in bench/results/
	$(BIN)/python bench/stack_startup.py

up down status: setup
	$(BIN)/mesh $@

reset: setup
	$(BIN)/mesh reset

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
