# Every target does its own set-up: a virtual environment in .venv with the pinned
# CPU build of torch (an unpinned torch pulls several GB of CUDA wheels).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skasc-installed

.PHONY: demo test bench clean
.PHONY: lint format

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/skasc demo

# make test = the linter, the formatter's check, the type checker, the documentation
# (make docs, below), then the tests with coverage (the floor is fail_under in
# pyproject.toml). CI runs exactly this.
test: lint docs-if-supported
	$(PY) -m pytest -q --cov=skasc --cov-report=term:skip-covered

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# rewrite the tree as the linter and formatter want it (then review the diff)
format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) benchmarks/frontend.py
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache .coverage

# --- documentation (Sphinx) ---------------------------------------------------------------
# `make docs` installs the docs extra into the same venv and builds the user guide, the API
# reference and the gallery (examples/, run on generated data) into docs/_build/html,
# offline, with every warning an error. `make test` builds it too (CI runs `make test`),
# except under Python 3.10, where Sphinx 9 does not install: it says so and goes on.
DOCS_STAMP := $(VENV)/.skasc-docs-installed

.PHONY: docs docs-if-supported clean-docs

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -E -b html -q docs docs/_build/html
	@echo "Documentation: docs/_build/html/index.html"

docs-if-supported: $(STAMP)
	@if $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	    $(MAKE) --no-print-directory docs; \
	else \
	    echo "make test: documentation not built: Sphinx 9 needs Python >= 3.11, .venv has $$($(PY) -V)"; \
	fi

clean-docs:
	rm -rf docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst
