# The two commands of the README: `make run` and `make test`. Both work on a fresh clone.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
LOCK := requirements.lock
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
CASTER_PORT ?= 2101
LISTENER_PORT ?= 2102

.PHONY: run test lint bench clean install lock

# The project is tested on CPython 3.11 (pyproject's requires-python, .python-version).
$(BIN)/python:
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	  || { echo "beidou-mobility needs CPython 3.11 (set PY=/path/to/python3.11)"; exit 1; }
	$(PY) -m venv $(VENV)

# Everything (runtime, dev, the build backend) comes from the hashed lock, nothing else:
# --require-hashes refuses any package or version the lock does not name. pip installs the locked
# uv (its own block of the lock), then uv installs the lock, ten times faster than pip would.
$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	@awk '/^uv==/{p=1} p{print} p&&!/\\$$/{exit}' $(LOCK) > $(VENV)/uv-from-lock.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/uv-from-lock.txt
	$(BIN)/uv pip sync -q --python $(BIN)/python --require-hashes $(LOCK)
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## Set up, migrate the embedded SQLite database, load the demo district, and run the whole district
## in one process: API, NTRIP caster, receiver listener + cloud RTK, MQTT ingestion, simulated devices.
run: $(STAMP)
	@mkdir -p var
	$(BIN)/beidou db upgrade
	$(BIN)/beidou demo load
	$(BIN)/beidou maas import --gtfs tests/data/mobility/terre-haute-gtfs.zip --osm tests/data/mobility/terre-haute.osm.pbf
	@export BEIDOU_ADMIN_TOKEN="$${BEIDOU_ADMIN_TOKEN:-$$( $(BIN)/beidou admin-token )}"; \
	  export BEIDOU_PAYMENT_SANDBOX="$${BEIDOU_PAYMENT_SANDBOX:-true}"; \
	  echo "admin token: $$BEIDOU_ADMIN_TOKEN   (demo operator, driver and devices: var/demo-credentials.json)"; \
	  exec $(BIN)/beidou serve --district --simulate --host $(HOST) --port $(PORT) \
	    --caster-port $(CASTER_PORT) --listener-port $(LISTENER_PORT)

# The pages are tested in a real browser: Debian's Chromium (Playwright's own download cannot
# reach its host here), installed once if missing.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "the browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi

# A Chinese font, so the pages' screenshots show the zh strings (Chromium draws boxes without).
CJK_FONT ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
$(CJK_FONT):
	@if [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei \
	  || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei) \
	  || echo "no CJK font: zh screenshots show boxes (the tests do not depend on it)"; \
	else echo "screenshots show boxes for Chinese text: sudo apt-get install fonts-wqy-microhei"; fi

## Set up and run the whole suite: static checks, then tests on PostgreSQL+Redis and on SQLite+in-process.
test: $(STAMP) $(CHROMIUM) $(CJK_FONT) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Benchmarks (not part of `make test`): drive a real server and print figures.
bench: $(STAMP)
	$(BIN)/python benchmarks/parking_api.py
	$(BIN)/python benchmarks/gnss_ingest.py
	$(BIN)/python benchmarks/ntrip_fanout.py
	$(BIN)/python benchmarks/maas.py
	$(BIN)/python benchmarks/rtk.py
	$(BIN)/python benchmarks/cloud_rtk.py
	$(BIN)/python benchmarks/rinex_read.py
	$(BIN)/python benchmarks/ocpp_chargers.py
	$(BIN)/python benchmarks/web_pages.py

## Upgrade the lock deliberately (then `make test`, and commit requirements.lock).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --upgrade --generate-hashes --python-version 3.11 \
	  --no-emit-index-url --no-emit-find-links --custom-compile-command 'make lock' -o $(LOCK)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
