# The README's two commands: `make run` and `make test`. Both create .venv and install every
# member of the workspace (editable) on first use, and again when a pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MEMBERS := kernel plugin-redis plugin-ratelimit plugin-sessions plugin-jobs plugin-realtime plugins/database plugins/console plugins/telemetry plugins/example
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint docs format bench fleet install isolated alerts dashboard

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(addsuffix /pyproject.toml,$(MEMBERS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(addprefix -e ./,$(MEMBERS)) --group dev
	touch $@

run: install
	SHEEPFOLD_ENV=development $(BIN)/sheepfold serve --host $(HOST) --port $(PORT)

test: install
	SHEEPFOLD_ENV=testing $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The guides and the API reference (docs/conf.py) into build/docs, every warning an error: a reference
# that does not resolve, bad markup in a docstring. -E: read every page again, so none is skipped.
docs: install
	$(BIN)/sphinx-build -E -W --keep-going -n -q -b html docs build/docs

# Each plugin installed alone with the kernel (not editable) into a fresh venv, running its own tests:
# see docs/development.md. `.ci/isolated NAME...` runs only some.
isolated: install
	.ci/isolated

# The alerting rules (deploy/prometheus): promtool's check and unit tests, as `make test` runs them
# (tests/operations). promtool is in Debian's `prometheus` package.
alerts:
	cd deploy/prometheus && promtool check rules sheepfold-alerts.yml && promtool test rules sheepfold-alerts.test.yml

# Rewrite deploy/grafana/sheepfold-dashboard.json from its generator (commit both; a test compares them).
dashboard: install
	$(BIN)/python deploy/grafana/dashboard.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python benchmarks/http_kernel.py

# The fleet harness (benchmarks/fleet): N `sheepfold serve` behind nginx under h2load, with chaos, and a report
# in benchmarks/fleet/runs/. Needs `apt-get install nginx nghttp2-client`. FLEET_SCENARIO picks the scenario file.
FLEET_SCENARIO ?= benchmarks/fleet/scenarios/standard.toml
fleet: install $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.fleet $(FLEET_SCENARIO)

$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/python -m pip install --quiet --group bench
	touch $@
