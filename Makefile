# envctl — see README.md. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO_BLUEPRINT = blueprints/checkout.yaml
# Integration tests that need Docker or Kubernetes are marked; deselect on a laptop with
#   make test PYTEST_ARGS="-m 'not docker and not kubernetes'"
PYTEST_ARGS ?=

.PHONY: demo test lint bench schema images install-dev install-demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install-demo: $(BIN)/python
	$(BIN)/pip install -q -e '.[local,demo]'

install-dev: $(BIN)/python
	$(BIN)/pip install -q -e '.[local,demo,dev]'

## Run the reference blueprint end to end on the local runtime.
demo: install-demo
	$(BIN)/envctl run $(DEMO_BLUEPRINT)

## Install and run the whole test suite.
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check orchestrator tests bench cluster
	$(BIN)/ruff format --check orchestrator tests bench cluster
	$(BIN)/mypy

## Measure the figures the issues name; writes bench/results/latest.json.
bench: install-dev
	$(BIN)/python -m bench

## Regenerate the checked-in JSON Schema and the blueprint reference from the model.
schema: install-dev
	$(BIN)/envctl schema --write blueprints/blueprint.schema.json
	$(BIN)/envctl schema --format markdown --write docs/blueprint-reference.md

## Build the Docker runtime's images (cached: only what changed is rebuilt); see
## images/README.md. Some only: make images IMAGES="postgres redis".
IMAGES ?=
images: $(BIN)/python
	$(BIN)/python images/build.py $(IMAGES)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
