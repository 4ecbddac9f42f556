PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
# The installer itself is pinned too; the lock pins everything else (hashes included).
PIP_VERSION := 26.3
LANDING   ?= data/landing
LAKEHOUSE ?= lakehouse
CUSTOMERS ?= 2000
SIZES     ?= course 1m

.PHONY: install lock demo test lint bench clean

# Exactly the locked versions (every file checked against its hash), then this project on top without
# dependencies; `pip check` fails when pyproject.toml asks for something the lock lacks (run `make lock`).
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

# Re-resolve pyproject.toml's ranges (runtime + dev + dask extras) into $(LOCK) for Python 3.11 on every
# platform. Pins that still fit are kept; `make lock UPGRADE=1` moves everything to the newest fitting release.
lock:
	test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet 'uv>=0.5,<1'; }
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra dask --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' --quiet $(if $(UPGRADE),--upgrade) --output-file $(LOCK)

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
