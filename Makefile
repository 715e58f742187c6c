# ece-extension-uploader: one command to set up and run each thing.
#   make demo   the product end to end on loopback (moto + ECE emulator)
#   make test   set up and run the whole test suite
#   make lint   ruff + mypy
#   make bench  benchmarks (printed as ratios, never asserted)
#   make soak   concurrency, faults and at-least-once delivery; one line of zeros
#   make sam-check  template lint, sam build on Python 3.13, the built artifact run
#   make mutation  mutation testing, module by module; writes mutation/REPORT.md (not in test)
#   make lock   refresh the hashed lock functions/requirements.txt that sam build installs

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
TOOLS  ?= .venv-tools
TOOLS_BIN   := $(TOOLS)/bin
TOOLS_STAMP := $(TOOLS)/.installed-stamp
LOCK_ARGS ?=

.PHONY: setup demo test unit integration test-pythons lint format bench soak tools sam-check lock mutation clean

$(STAMP): pyproject.toml functions/extension_uploader/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sandbox,dev]'
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
	    .venv-$$version/bin/python -m pip install --quiet -e '.[sandbox,dev]'; } || exit 1; \
	  .venv-$$version/bin/pytest -q tests/unit || exit 1; \
	done

# The AWS SAM CLI, cfn-lint and uv, pinned, in their own environment (a failed install
# fails the target).
$(TOOLS_STAMP): tools/requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS_BIN)/python -m pip install --quiet --upgrade pip
	$(TOOLS_BIN)/python -m pip install --quiet -r tools/requirements-tools.txt
	@touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

# sam validate --lint, cfn-lint, sam build with Python 3.13 (skipped, and said so, where
# there is none), then the built artifact: glibc of its .so files, size, cold import
# time, and the handler run on an S3 event against the local sandbox.
sam-check: setup tools
	SAM_CLI_TELEMETRY=0 $(BIN)/python tools/sam_check.py

# Resolves the function's requirements for Lambda (Python 3.13, x86_64 manylinux) with
# every file's hash. Keeps existing pins; `make lock LOCK_ARGS=--upgrade` moves them.
lock: tools
	cd functions && UV_CUSTOM_COMPILE_COMMAND="make lock" ../$(TOOLS_BIN)/uv pip compile \
	  --quiet --generate-hashes --python-version 3.13 --python-platform x86_64-manylinux_2_28 \
	  $(LOCK_ARGS) extension_uploader/requirements.txt -o requirements.txt

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Loopback only, a few minutes on 2 cores: 300 objects, 3 invocations at once, about 200
# ECE faults and a key rotation; prints one line of counts that must all be zero.
soak: setup
	$(BIN)/python -m tests.soak

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# mutmut in the project's environment; each module is mutated in a staged copy under
# .mutation/ against the tests that exercise it, for at most 15 minutes a module
# (120 for the pipeline, whose mutants run integration tests: about 80 minutes on
# 2 cores). MUTATION_ARGS names modules and options (e.g. "pipeline ece --minutes 30");
# without it, every module. "--resume" goes on from where a module's last run stopped
# (e.g. "pipeline --minutes 60 --resume").
MUTATION_ARGS ?=
MUTATION_STAMP := $(VENV)/.mutation-stamp

$(MUTATION_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[sandbox,dev,mutation]'
	@touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	nice -n 10 $(BIN)/python mutation/run.py $(MUTATION_ARGS)

clean:
	rm -rf .mutation mutants $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache build *.egg-info .aws-sam
