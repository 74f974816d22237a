# The two commands: `make run` and `make test`. Both create the venv and install on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The web UI's vendor files (MapLibre GL JS, ECharts) from npm, copied into yitu/web/static/vendor.
WEB_STAMP := yitu/web/static/vendor/manifest.json
# The suite runs twice: on the embedded SQLite, then on this PostgreSQL (each run creates and
# drops its own databases, so runs never collide). The grid library and its CLI touch no
# database, so the PostgreSQL pass skips them.
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test web lint bench-grid bench-api clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(WEB_STAMP): package.json package-lock.json web/build.mjs
	npm ci --no-audit --no-fund
	npm run build

web: $(WEB_STAMP)

# Migrate ./data/yitu.db, load the county's divisions, create the demo admin (one-time password
# printed), then serve http://127.0.0.1:8000. The demo county generator hooks into `yitu demo init`.
run: $(STAMP) $(WEB_STAMP)
	$(BIN)/yitu demo init
	$(BIN)/yitu serve --host 127.0.0.1 --port 8000

test: $(STAMP) $(WEB_STAMP)
	$(BIN)/ruff check yitu tests bench
	$(BIN)/pytest
	YITU_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest tests --ignore=tests/grid --ignore=tests/cli

bench-api: $(STAMP)
	$(BIN)/python bench/api_bench.py

lint: $(STAMP)
	$(BIN)/ruff check yitu tests bench

bench-grid: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/grid_bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info node_modules yitu/web/static/vendor
