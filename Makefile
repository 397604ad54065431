# Two commands on a fresh machine: `make demo` and `make test`. Both create their own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CLI    := $(BIN)/tillsynsrisk
DEMO_SEED ?= 42
DEMO_WORLD := var/demo-world

.PHONY: install demo test lint typecheck pytest bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(CLI) generate --seed $(DEMO_SEED) --out $(DEMO_WORLD)
	$(CLI) ingest $(DEMO_WORLD)
	$(CLI) snapshot show

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/bench_generate.py

clean:
	rm -rf $(VENV) var
