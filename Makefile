# statusadmin: `make run` to try it, `make test` to check it. Both set everything up first.
SHELL := /bin/sh
.DEFAULT_GOAL := help

VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin
PY := $(BIN)/python
# Set up once per change of the dependency list; re-running reuses the virtualenv.
STAMP := $(VENV)/.installed
# npm ci writes this copy of the lockfile; older than package-lock.json means install again.
NODE_STAMP := node_modules/.package-lock.json

.PHONY: help run test test-postgres setup node migrate demo lint format lock docker-check bench browser mutation clean

help:
	@echo "make run    set up (virtualenv, install, migrate, demo data), start the worker and serve on http://$(HOST):$(PORT)"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff check + ruff format --check + mypy + hadolint"
	@echo "make bench  benchmarks (BENCH_SCALE=small|full; see bench/README.md)"
	@echo "make mutation  sampled mutation testing of the write and audit path (see docs/mutation.md)"

$(STAMP): pyproject.toml
	@python_bin=$$(scripts/find-python) || exit 1; \
	if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$python_bin"; "$$python_bin" -m venv $(VENV) || exit 1; fi
	@# pip >= 25.1 understands [dependency-groups]; older bundled pips do not.
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e . --group dev
	@touch $(STAMP)

setup: $(STAMP)

# The tests' OpenID Connect provider (tests/oidc/) runs on node; the app and its image do not.
# No dependency needs an install script, so none gets to run one.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || { \
		echo "make test needs Node.js >= 20 with npm, for the tests' OpenID Connect provider." >&2; \
		echo "Install it (Debian/Ubuntu: apt-get install nodejs npm) and run make test again." >&2; \
		exit 1; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { \
		echo "make test needs Node.js >= 20; this node is $$(node --version)." >&2; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $(NODE_STAMP)

node: $(NODE_STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput

# Each start also checkpoints the audit chain, so verify_audit has an outside anchor from day one.
demo: migrate
	$(PY) manage.py seed_demo --url http://$(HOST):$(PORT)/
	$(PY) manage.py audit_checkpoint

# The worker (change sets, recurring jobs) runs beside the web server; both stop together.
# `kill 0` reaches the whole process group: Ctrl+C (or the server ending) stops both.
run: demo
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(PY) manage.py worker & \
	$(PY) manage.py runserver $(HOST):$(PORT)

browser:
	@scripts/ensure-chromium

test: setup browser node
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: setup browser node
	DATABASE_URL=$${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# requirements.lock pins every runtime dependency with hashes; the Docker image installs from it.
lock: setup
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml

# The Dockerfile's install and start steps, run in a fresh virtualenv (no Docker engine needed).
docker-check: setup
	$(BIN)/hadolint Dockerfile
	scripts/docker-smoke

BENCH_SCALE ?= small
# A comma-separated subset: search, audit, export, verify, edit, import, throughput (default: all).
BENCH_ONLY ?=
# Builds the data once (BENCH_DATABASE_URL, PostgreSQL), measures, prints one table.
bench: setup
	@scripts/ensure-tool wrk
	BENCH_SCALE=$(BENCH_SCALE) BENCH_ONLY=$(BENCH_ONLY) $(PY) bench/run.py

# Sampled mutation testing (mutmut) of the write and audit path; too slow for `make test` and CI.
mutation: setup
	$(PY) scripts/mutation

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache mutants node_modules
