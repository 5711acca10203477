# ChatDB developer commands. Each target sets up what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install gen lint test up down bench services check-gen

install: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Regenerate gen/ (Python modules, stubs, Envoy descriptor set) from proto/, and the
# Kubernetes Envoy ConfigMaps (base, and the tracing overlay's), which embed that descriptor set.
gen: install
	$(PY) scripts/gen_protos.py
	$(PY) deploy/k8s/render_envoy.py >/dev/null
	$(PY) deploy/k8s/render_envoy.py --otlp-endpoint http://otel-collector.chatdb.svc:4317 \
		--out deploy/k8s/overlays/tracing/envoy-config.yaml >/dev/null

# Fails when gen/ is not what a fresh regeneration gives.
check-gen: gen
	@if [ -n "$$(git status --porcelain --untracked-files=all gen)" ]; then \
		git status --porcelain --untracked-files=all gen; \
		echo "gen/ is stale: run 'make gen' and commit the result"; exit 1; fi

lint: install
	$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check servers workers gateway edge tests scripts deploy bench

services:
	scripts/ensure_services.sh

test: install services
	$(PY) -m pytest

# Brings up the whole mesh in the background and shows it answering. PostgreSQL or
# Redis that does not answer at its configured URL is started embedded (bare machine).
up: install
	$(VENV)/bin/chatdb up --detach

down:
	$(VENV)/bin/chatdb down

bench: install services
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script; done
