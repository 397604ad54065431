# Two commands on a fresh machine: `make demo` and `make test`. Both create their own .venv.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CLI    := $(BIN)/tillsynsrisk
DEMO_SEED ?= 42
DEMO_WORLD := var/demo-world
# The demo world's history ends 2025-12, so the planning date is the first day after it.
DEMO_AS_OF := 2026-01-01
DEMO_KEY_FILE := var/demo-api-key
DEMO_SCOPES := read:candidates,read:units,read:providers,read:models,read:plans,write:plans
HOST ?= 127.0.0.1
PORT ?= 8000

# Installs come from requirements.lock: every package of the runtime and dev dependencies, pinned with
# hashes (`make lock` updates it from pyproject.toml). uv installs them; uv itself is pinned with hashes in
# requirements-uv.lock and installed by pip. The project is installed editable, without dependencies, last.
UV_VERSION := 0.13.8
LOCK_ARGS ?=
UV := $(BIN)/uv
UV_COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes $(LOCK_ARGS)

.PHONY: install lock demo demo-port test lint typecheck browser pytest bench clean

$(UV): requirements-uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-uv.lock
	touch $@

$(VENV)/.installed: requirements.lock pyproject.toml $(UV)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@# A lock older than a dependency added to pyproject.toml fails here: run `make lock`.
	$(UV) pip check --quiet --python $(BIN)/python
	touch $@

install: $(VENV)/.installed

# Re-resolve the lock files from pyproject.toml (existing pins are kept where they still fit; add
# LOCK_ARGS=--upgrade to move every package to its newest allowed version). Commit both files.
lock: $(UV)
	$(UV_COMPILE) --extra dev -o requirements.lock pyproject.toml
	echo "uv==$(UV_VERSION)" | $(UV_COMPILE) -o requirements-uv.lock -

# The main job end to end: world → snapshot → features → model (trained, evaluated, promoted) → scores →
# API. Ends by serving on $(HOST):$(PORT) with a demo key (printed, and kept in $(DEMO_KEY_FILE) for the
# README's curl examples). Ctrl-C stops the server; everything stays under var/ and mlruns/.
demo: demo-port install
	$(CLI) generate --seed $(DEMO_SEED) --out $(DEMO_WORLD)
	$(CLI) ingest $(DEMO_WORLD)
	$(CLI) snapshot show
	$(CLI) features --as-of $(DEMO_AS_OF)
	$(CLI) train --as-of $(DEMO_AS_OF) | tee var/demo-train.log
	@run=$$(sed -n 's/^run id: \([0-9a-f]*\).*/\1/p' var/demo-train.log | tail -n 1); \
	  test -n "$$run" || { echo "train printed no run id" >&2; exit 1; }; \
	  $(CLI) evaluate $$run --out var/demo-report.html > var/demo-evaluate.log && \
	  echo "evaluate: all inspections, calibration and each test year in var/demo-evaluate.log" && \
	  { $(CLI) promote $$run || { echo "demo: promotion refused by the gates above; promoting anyway" \
	      "with --force so the rest of the path can be shown (the reasons are tagged on the version)"; \
	      $(CLI) promote $$run --force; }; }
	$(CLI) score --as-of $(DEMO_AS_OF)
	$(CLI) plan --capacity 20 --per-region 3 --max-per-provider 2 --seed $(DEMO_SEED)
	@$(CLI) apikey revoke demo >/dev/null 2>&1 || true
	@umask 077 && $(CLI) apikey create --name demo --scopes $(DEMO_SCOPES) > $(DEMO_KEY_FILE)
	@echo ""
	@echo "HTML evaluation report: var/demo-report.html (tables: var/demo-evaluate.log). The API's curl" \
	  "examples are in the README."
	@echo ""
	@echo "Planners' web pages: open http://$(HOST):$(PORT)/ in a browser and sign in with the demo key"
	@echo "(all read scopes and write:plans; also in $(DEMO_KEY_FILE)):"
	@echo ""
	@echo "    $$(cat $(DEMO_KEY_FILE))"
	@echo ""
	$(CLI) serve --host $(HOST) --port $(PORT)

# Fails in a second, before the minutes of work, when the server at the end could not listen on
# $(HOST):$(PORT). It binds the way uvicorn does (SO_REUSEADDR, so a port in TIME_WAIT counts as free).
demo-port:
	@$(PYTHON) -c 'import socket, sys; host, port = sys.argv[1], int(sys.argv[2]); \
	  socket.create_server((host, port), family=socket.getaddrinfo(host, port)[0][0]).close()' \
	  '$(HOST)' '$(PORT)' 2>/dev/null || { echo "demo: cannot listen on $(HOST):$(PORT) (in use, or not" \
	  "an address of this machine); choose another port: make demo PORT=8001" >&2; exit 1; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# The browser tests (web pages, the report's accessibility) drive a Chromium: Debian's `chromium` where it
# is installed or installable (as root, with apt), else Playwright's own build (downloaded into
# ~/.cache/ms-playwright). tests/conftest.py launches whichever is there.
browser: install
	@command -v chromium >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "browser: installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && apt-get install -y -qq chromium && command -v chromium >/dev/null && exit 0; \
	fi; \
	echo "browser: no Debian chromium; installing Playwright's own Chromium for the browser tests"; \
	$(BIN)/playwright install chromium && exit 0; \
	echo "browser: no Chromium for the browser tests. Install Debian's (as root: apt-get install chromium)" \
	  "or let Playwright fetch its own (.venv/bin/playwright install chromium; needs network access)." >&2; \
	exit 1

# Two worker processes (the machine's two cores); a test file stays on one worker, so module and session
# fixtures (trained runs, the browser) are built once per worker; tests/scheduling.py names the few units that
# are not a file and starts the long ones first. `.venv/bin/pytest tests/FILE` runs serially.
pytest: install browser
	$(BIN)/pytest -n 2 --dist loadfile

# Lint first: it takes a second, and a fault there stops everything at once. mypy then runs beside pytest:
# on a fresh clone (no mypy cache) it keeps one core busy for half a minute, which pytest leaves idle while
# its last units finish and spends in mypy's stead otherwise. A failure of either fails `make test`.
test: lint
	$(MAKE) --no-print-directory -j 2 --output-sync=line typecheck pytest

bench: install
	$(BIN)/python bench/bench_generate.py

clean:
	rm -rf $(VENV) var
