# Latchkey's build, test and benchmark entry points.
# `make test` is what CI runs on a clean clone: it installs what the tests need
# when it is missing, then runs every check. With LATCHKEY_TEST_POSTGRES set to
# a PostgreSQL URL (.ci/run sets postgres://postgres@127.0.0.1:5432/test), the
# Rust integration suite and the browser specs run on PostgreSQL too; a server
# that does not answer then is a failure, not a skip.

SHELL := /bin/bash
E2E_DIR := tests/e2e
CHROMIUM ?= /usr/bin/chromium

.PHONY: test deps chromium e2e-deps postgres fmt-check clippy rust-test e2e api-fuzz fuzz build release run bench bench-scaling screenshots clean

test: deps fmt-check clippy rust-test e2e api-fuzz

deps: chromium e2e-deps postgres

# Debian's Chromium is the browser; nothing may download one.
chromium:
	@if [ ! -x "$(CHROMIUM)" ] || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium and chromium-driver"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "Chromium is missing: run 'sudo apt-get install chromium chromium-driver'" >&2; exit 1; \
	  fi; \
	fi

# npm ci when node_modules is missing or older than the lock file.
e2e-deps:
	@if [ ! -d $(E2E_DIR)/node_modules ] || [ $(E2E_DIR)/package-lock.json -nt $(E2E_DIR)/node_modules ]; then \
	  cd $(E2E_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && touch node_modules; \
	fi

# When a PostgreSQL server is named: its client tools (psql, pg_isready), and
# the local server started if it is down (as root, on Debian).
postgres:
	@if [ -n "$(LATCHKEY_TEST_POSTGRES)" ]; then \
	  if ! command -v pg_isready >/dev/null || ! command -v psql >/dev/null; then \
	    if [ "$$(id -u)" = 0 ]; then \
	      echo "Installing Debian's postgresql-client"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null; \
	    else \
	      echo "psql and pg_isready are missing: run 'sudo apt-get install postgresql-client'" >&2; exit 1; \
	    fi; \
	  fi; \
	  if ! pg_isready -q -d "$(LATCHKEY_TEST_POSTGRES)"; then \
	    if [ "$$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then \
	      echo "Starting the local PostgreSQL"; \
	      pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n 1) main start || true; \
	    fi; \
	    for i in $$(seq 30); do pg_isready -q -d "$(LATCHKEY_TEST_POSTGRES)" && break; sleep 1; done; \
	    pg_isready -d "$(LATCHKEY_TEST_POSTGRES)" || { echo "PostgreSQL at $(LATCHKEY_TEST_POSTGRES) does not answer" >&2; exit 1; }; \
	  fi; \
	fi

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --all-targets --locked -- -D warnings

rust-test: postgres
	cargo test --locked
	@if [ -n "$(LATCHKEY_TEST_POSTGRES)" ]; then \
	  echo "The integration suite again, on PostgreSQL ($(LATCHKEY_TEST_POSTGRES))"; \
	  LATCHKEY_TEST_BACKEND=postgres cargo test --locked --test it; \
	fi

build:
	cargo build --locked

e2e: build postgres
	cd $(E2E_DIR) && CI=$${CI:-} npx playwright test
	@if [ -n "$(LATCHKEY_TEST_POSTGRES)" ]; then \
	  echo "The browser specs again, on PostgreSQL"; \
	  cd $(E2E_DIR) && CI=$${CI:-} E2E_PORT=18091 E2E_POSTGRES="$(LATCHKEY_TEST_POSTGRES)" npx playwright test; \
	fi

# The property tests (secret format, JSON Patch edits, form decoding) with
# many more cases than the few seconds' worth `cargo test` runs.
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-100000} cargo test --locked --test fuzz
	PROPTEST_CASES=$${PROPTEST_CASES:-100000} cargo test --locked --lib web::tokens::form::tests

# schemathesis against the running server's own OpenAPI document.
api-fuzz: build
	bash tests/api/schemathesis.sh

release:
	cargo build --release --locked

run:
	cargo run --release -- serve --demo

# Throughput and p99 of the hot paths next to /healthz, page weight, memory
# and create rate, checked against their targets (exit 1 when one is missed),
# on SQLite and (when LATCHKEY_TEST_POSTGRES or BENCH_POSTGRES names a server)
# on PostgreSQL with one and with two instances.
bench: release
	BENCH_POSTGRES="$${BENCH_POSTGRES:-$(LATCHKEY_TEST_POSTGRES)}" python3 bench/bench.py

# The same at 1,000, 10,000 and 100,000 tokens, for the README's scaling table.
bench-scaling: release
	@for n in 1000 10000 100000; do BENCH_TOKENS=$$n BENCH_POSTGRES="$${BENCH_POSTGRES:-$(LATCHKEY_TEST_POSTGRES)}" python3 bench/bench.py || true; done

# Screenshots of the pages, wide and narrow, light and dark, into ./screenshots.
screenshots: build e2e-deps
	@mkdir -p screenshots
	@set -e; port=18097; \
	E2E_PORT=$$port E2E_PASSWORD=correct-horse-battery-staple bash $(E2E_DIR)/start-server.sh > screenshots/server.log 2>&1 & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:$$port/healthz >/dev/null && break; sleep 0.2; done; \
	cd $(E2E_DIR) && BASE=http://127.0.0.1:$$port EMAIL=owner@e2e.test PASSWORD=correct-horse-battery-staple node tools/screenshots.mjs ../../screenshots

clean:
	cargo clean
	rm -rf $(E2E_DIR)/node_modules $(E2E_DIR)/test-results screenshots
