# Crisis Radar: the two quick-start commands and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/radar: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(BIN)/radar

## Replay a generated multi-day scenario through the real pipeline and print the alerts.
demo: $(BIN)/radar
	$(BIN)/radar demo

## ruff, mypy and pytest
test: $(BIN)/radar lint typecheck pytest

lint: $(BIN)/radar
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/radar
	$(BIN)/mypy

pytest: $(BIN)/radar
	$(BIN)/pytest

bench: $(BIN)/radar
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
