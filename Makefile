# Crisis Radar: the two quick-start commands and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean system-deps

# the Cython extensions are compiled by the install: a changed .pyx is rebuilt by installing again
$(BIN)/radar: pyproject.toml detectors/_update.pyx radar/_termsketch.pyx radar/_recent.pyx radar/_topterms.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(BIN)/radar

## Replay a generated multi-day scenario through the real pipeline and print the alerts.
demo: $(BIN)/radar
	$(BIN)/radar demo

## ruff, mypy and pytest (the Debian packages integration tests start are installed first, as root)
test: $(BIN)/radar system-deps lint typecheck pytest

system-deps:
	@bash .ci/system-deps

lint: $(BIN)/radar
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/radar
	$(BIN)/mypy

pytest: $(BIN)/radar
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pytest

bench: $(BIN)/radar
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
