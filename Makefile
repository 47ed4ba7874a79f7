# PropDesk. The first two targets are all a fresh clone needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROPERTY ?= demo

# One import path everywhere: the same folders pytest's `pythonpath` lists.
export PYTHONPATH := $(CURDIR):$(CURDIR)/functions:$(CURDIR)/layers/core/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test install browser lint format unit run token synth deploy diff clean help bench fuzz

help:
	@echo "make demo                      set up and run a scripted month of the demo property locally"
	@echo "make test                      set up, lint and run the whole test suite"
	@echo "make run [PROPERTY=demo] [PORT=8000]  start the local runtime on http://127.0.0.1:PORT"
	@echo "make token ROLE=cashier        mint a staff token for the local runtime"
	@echo "make bench [UNITS=500] [BILLING_ONLY=1]  one billing cycle in process on moto: AWS calls and"
	@echo "                               DynamoDB write units per unit (the emulator's time apart)"
	@echo "make fuzz [EXAMPLES=300]       schemathesis on every route of the local runtime, many examples"
	@echo "make synth PROPERTY=<id>       synthesize the CDK stack PropDesk-<id> offline"
	@echo "make deploy PROPERTY=<id>      deploy PropDesk-<id> to the AWS account in your environment"

demo: install
	$(BIN)/python -m infra.local.demo --property $(PROPERTY)

test: install browser lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Headless Chromium and CJK fonts for the browser tests, from Debian's packages, when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

PORT ?= 8000
run: install
	$(BIN)/python -m infra.local --property $(PROPERTY) --port $(PORT)

token: install
	$(BIN)/python -m infra.local.tokens --role $(or $(ROLE),admin)

synth: install node_modules/.installed
	npx --no-install cdk synth --quiet -c property=$(PROPERTY)

diff: install node_modules/.installed
	npx --no-install cdk diff PropDesk-$(PROPERTY) -c property=$(PROPERTY)

deploy: install node_modules/.installed
	npx --no-install cdk deploy PropDesk-$(PROPERTY) -c property=$(PROPERTY) --require-approval broadening --outputs-file build/outputs-$(PROPERTY).json

UNITS ?= 500
bench: install
	$(BIN)/python -m bench.cycle --units $(UNITS) $(if $(BILLING_ONLY),--billing-only)

EXAMPLES ?= 300
fuzz: install
	PROPDESK_FUZZ_EXAMPLES=$(EXAMPLES) $(BIN)/python -m pytest -p no:cacheprovider tests/e2e/test_fuzz_api.py

clean:
	rm -rf cdk.out build .pytest_cache .ruff_cache
