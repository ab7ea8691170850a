# meetbox: `make run` starts the server, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.meetbox-installed

.PHONY: setup run test lint typecheck pytest bench clean

setup: $(STAMP) node_modules/.meetbox-installed

$(STAMP): setup.cfg pyproject.toml setup.py $(wildcard meetbox/sfu/csrc/*)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

node_modules/.meetbox-installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(VENV)/bin/meetbox serve

lint: $(STAMP)
	$(VENV)/bin/ruff check meetbox tests bench
	$(VENV)/bin/ruff format --check meetbox tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	MYPYPATH=bench $(VENV)/bin/mypy bench/*.py

pytest: setup
	./scripts/system-deps.sh
	$(VENV)/bin/pytest -q -rs -p no:cacheprovider

test: lint typecheck pytest

# writes bench/results.json, bench/results.md and bench/*.png (about 10 minutes)
bench: setup
	bash scripts/bench-deps.sh
	$(PY) -m pip install -q -e '.[bench,fast]'
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache
