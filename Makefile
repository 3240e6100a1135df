# Lantian: `make run` starts the whole local stack; `make test` runs the test suite.
# Both install what is missing first (Debian packages, then a virtualenv with the project).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-deploy install system-deps lint bench clean

run: install
	$(VENV)/bin/lantian run

test: install lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The compose deployment for real: Docker Engine (installed and started if missing), images
# from Debian packages, the stack with the demo profile (about 5 minutes; tests/deploy).
test-deploy: install
	LANTIAN_DEPLOY_TESTS=1 $(VENV)/bin/python -m pytest tests/deploy $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

install: system-deps $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh $(PYTHON)

$(STAMP): pyproject.toml scripts/install_venv.sh
	@bash scripts/install_venv.sh $(PYTHON) $(VENV)
	@touch $@

bench: install
	$(VENV)/bin/lantian bench --json var/bench.json

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
