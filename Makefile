# The two commands: `make run` and `make test`. Both create the venv and install on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench-grid clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/yitu serve

test: $(STAMP)
	$(BIN)/ruff check yitu tests bench
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check yitu tests bench

bench-grid: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/grid_bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info
