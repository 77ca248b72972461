# The two commands of the README: `make run` and `make test`. Both work on a fresh clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-pg test-embedded lint bench clean install

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Set up, migrate the embedded SQLite database, load the demo district, simulate and serve.
run: $(STAMP)
	@mkdir -p var
	$(BIN)/beidou db upgrade
	$(BIN)/beidou demo load
	$(BIN)/beidou maas import --gtfs tests/data/mobility/terre-haute-gtfs.zip --osm tests/data/mobility/terre-haute.osm.pbf
	@export BEIDOU_ADMIN_TOKEN="$$( $(BIN)/beidou admin-token )"; \
	  echo "admin token: $$BEIDOU_ADMIN_TOKEN"; \
	  echo "serving on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"; \
	  $(BIN)/beidou serve --host $(HOST) --port $(PORT) --simulate

## Set up and run the whole suite: static checks, then tests on PostgreSQL+Redis and on SQLite+in-process.
test: $(STAMP) lint
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

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
