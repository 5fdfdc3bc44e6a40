# The two commands a newcomer needs:  make demo  (set up, start the mesh)  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# An offline bundle (`mesh bundle export DIR`): `make setup MESH_BUNDLE=DIR` installs from it alone.
MESH_BUNDLE ?=
ifneq ($(MESH_BUNDLE),)
export MESH_BUNDLE
endif

.PHONY: setup demo test lint unit bench doctor up down status reset clean

setup: $(VENV)/.installed  ## install everything: prerequisites check, virtualenv, the project

$(VENV)/.installed: pyproject.toml platform/scripts/ensure-prerequisites.sh
ifneq ($(MESH_BUNDLE),)
	@$(PYTHON) platform/mesh_stack/bundle/manifest.py verify "$(MESH_BUNDLE)"
	@platform/scripts/ensure-prerequisites.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-index --find-links "$(MESH_BUNDLE)/wheels" --require-hashes -r "$(MESH_BUNDLE)/wheels/requirements.txt"
	$(BIN)/pip install --quiet --no-index --find-links "$(MESH_BUNDLE)/wheels" --no-deps -e .
	$(BIN)/mesh bundle import "$(MESH_BUNDLE)"
else
	@platform/scripts/ensure-prerequisites.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
endif
	@touch $@

demo: setup  ## the mesh end to end: stack, products, traffic, then where to look
	$(BIN)/mesh demo

test: setup lint  ## lint, type-check, then every test (starts and stops its own servers)
	@platform/scripts/ensure-browser.sh
	$(BIN)/python platform/scripts/test_lanes.py  # the labs on their own mesh, beside every other test

lint: setup
	$(BIN)/ruff check platform tests bench products labs conftest.py
	$(BIN)/ruff format --check platform tests bench products labs conftest.py
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the layering: [tool.importlinter] in pyproject.toml
	@for checks in labs/*/checks.py; do $(BIN)/mypy --no-error-summary $$checks || exit 1; done  # each lab alone: every one is a module named checks
	@for logic in products/*/product.py; do $(BIN)/mypy --no-error-summary $$logic || exit 1; done  # each product's logic alone, likewise

unit: setup
	$(BIN)/pytest tests/unit

bench: setup  ## every benchmark; results in bench/results/
	$(BIN)/python -m bench.stack_startup
	$(BIN)/python -m bench.ingest_throughput
	$(BIN)/python -m bench.serving_latency
	$(BIN)/python -m bench.sql_aggregate
	$(BIN)/python -m bench.cdc_pipeline
	$(BIN)/python -m bench.retention
	$(BIN)/python -m bench.mesh_demo
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.model_lift
	$(BIN)/python -m bench.labs

doctor: setup  ## pre-flight for a workshop: Python, Java, memory, disk, ports, warm caches
	$(BIN)/mesh doctor

up down status: setup
	$(BIN)/mesh $@

reset: setup
	$(BIN)/mesh reset

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
