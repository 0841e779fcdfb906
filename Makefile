# dermfeat developer commands.  `make demo` and `make test` work on a fresh machine:
# each creates .venv if missing and installs the package with what it needs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?=

.PHONY: demo test docs dist bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dermfeat demo $(if $(DATA),--data $(DATA))

test: $(STAMP)
	$(PY) -m pytest -q --doctest-modules src/dermfeat tests

# Runs every example of the gallery (tests/test_docs.py builds it without running them).
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

bench: $(STAMP)
	$(PY) benchmarks/bench_features.py
	$(PY) benchmarks/bench_embeddings.py

clean:
	rm -rf $(VENV) docs/_build docs/api/generated docs/auto_examples docs/sg_execution_times.rst build dist src/*.egg-info .pytest_cache
