# One command sets up and tests, one sets up and starts the app. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint run bench package test-package clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow"

run: $(STAMP)
	$(VENV)/bin/mcc-annotate $(ARGS)

bench: $(STAMP)
	$(PY) bench/train_step.py
	$(PY) bench/export.py
	$(PY) bench/energy.py
	$(PY) bench/canvas.py

PACKAGE_STAMP := $(VENV)/.installed-package

$(PACKAGE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,package]'
	touch $(PACKAGE_STAMP)

# dist/mcc-annotate/mcc-annotate; MCC_CPU_ONLY=1 leaves a CUDA torch's GPU-only libraries out.
package: $(PACKAGE_STAMP)
	PYTHON=$(PY) bash packaging/build.sh

# Builds the bundle unless dist/ is newer than the sources, runs it bare, checks the wheel.
test-package: $(PACKAGE_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m slow tests/test_packaging.py

clean:
	rm -rf build dist .pytest_cache .ruff_cache
