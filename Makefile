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

# make test = the linter, the formatter's check, the type checker, then the tests with
# coverage (the floor is fail_under in pyproject.toml). CI runs exactly this.
test: lint
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
