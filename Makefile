PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LANDING   ?= data/landing
LAKEHOUSE ?= lakehouse
CUSTOMERS ?= 2000
SIZES     ?= course 1m

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	@test -d $(LANDING) || $(BIN)/stedi generate --out $(LANDING) --customers $(CUSTOMERS) --seed 7
	$(BIN)/stedi run --landing $(LANDING) --lakehouse $(LAKEHOUSE)
	$(BIN)/stedi tables --lakehouse $(LAKEHOUSE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python -m benchmarks.run $(SIZES)

clean:
	rm -rf $(LAKEHOUSE) data .stedi .pytest_cache .mypy_cache .ruff_cache
