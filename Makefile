# The two set-up commands of the README: `make run` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv bundle clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app
	$(BIN)/photosort $(FOLDER)

lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

test: $(VENV)/.installed-test lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist

# The standalone one-folder bundle (dist/photosort/), built in its own venv with a pinned
# PyInstaller, then checked with --version and --selftest outside any venv: docs/bundle.md.
bundle:
	PYTHON=$(PYTHON) bash packaging/build_bundle.sh
