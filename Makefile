# ece-extension-uploader: one command to set up and run each thing.
#   make demo   the product end to end on loopback (moto + ECE emulator)
#   make test   set up and run the whole test suite
#   make lint   ruff + mypy
#   make bench  benchmarks (printed as ratios, never asserted)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup demo test unit integration test-pythons lint format bench sam-build clean

$(STAMP): pyproject.toml functions/extension_uploader/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/ece-uploader demo

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: setup
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# The unit suite (zip inspection and the zipfile-deflate64 patch among it) on every
# other supported Python found here: 3.12, and 3.13 (Lambda's runtime).
test-pythons:
	@for version in 3.12 3.13; do \
	  py=; for candidate in $$(ls -d $$HOME/.pyenv/versions/$$version.*/bin/python 2>/dev/null) \
	      $$(command -v python$$version); do \
	    if $$candidate --version >/dev/null 2>&1; then py=$$candidate; break; fi; \
	  done; \
	  if [ -z "$$py" ]; then echo "python$$version not found: skipped"; continue; fi; \
	  echo "== unit tests on $$($$py --version)"; \
	  [ -x .venv-$$version/bin/pytest ] || { $$py -m venv .venv-$$version && \
	    .venv-$$version/bin/python -m pip install --quiet --upgrade pip && \
	    .venv-$$version/bin/python -m pip install --quiet -e '.[dev]'; } || exit 1; \
	  .venv-$$version/bin/pytest -q tests/unit || exit 1; \
	done

# Needs the AWS SAM CLI and python3.13 on PATH.
sam-build:
	sam validate --lint --region us-east-1
	sam build

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache build *.egg-info .aws-sam
