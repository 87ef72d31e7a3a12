# l1scout: the two commands of the README.
#   make demo   creates .venv, installs, runs the main job on embedded defaults
#   make test   creates .venv, installs, runs the lint, the type check, the docs build and the tests
#   make docs   builds the documentation site into site/ (mkdocs --strict)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-output

.PHONY: demo test lint typecheck docs pytest clean install

install: $(STAMP)

# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[ml,test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/l1scout demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/*.py
	$(BIN)/ruff format --check src tests benchmarks docs/*.py
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# the site (mkdocs.yml): strict, so a broken link, anchor or docstring reference fails
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# two workers (pytest-xdist), one per core; the slowest tests are listed at the end
pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=15

test: lint typecheck docs pytest

clean:
	rm -rf $(VENV) $(DEMO_OUT) site .pytest_cache .mypy_cache .ruff_cache
