# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
LISTEN ?= 127.0.0.1:3001
DATA_DIR ?= ./breeze-data
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)

.PHONY: run test web web-deps web-check rust-test browser-test api-fuzz lint bench dist

## Build the web console, the server and the agent (release) and run Breeze on SQLite in
## $(DATA_DIR). The server serves target/release/breeze-agent at /download/agent/<os>-<arch>
## and /install.sh (see "Add your first device" in the README).
run: web
	cargo build --release --workspace --bins
	$(TARGET_DIR)/release/breeze serve --data-dir $(DATA_DIR) --listen $(LISTEN)

# `npm ci` installs exactly what web/package-lock.json says and never rewrites it. It runs
# only when node_modules is missing or older than the lockfile or package.json (npm ci
# leaves node_modules/.package-lock.json behind as the stamp), so `make run` stays quick.
# After changing a dependency in package.json, run `npm --prefix web install` once and
# commit the lockfile it writes; npm ci refuses a lockfile that disagrees with package.json.
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	npm --prefix web ci --no-audit --no-fund
	touch $@

web: web-deps
	npm --prefix web run build

## Everything: UI lint, type check and unit tests; Rust tests (SQLite, plus PostgreSQL when
## BREEZE_TEST_DATABASE_URL is set); browser tests in headless Chromium against a real server.
test: web-check web rust-test api-types browser-test
	$(MAKE) api-fuzz

web-check: web-deps
	npm --prefix web run lint
	npm --prefix web run typecheck
	npm --prefix web test

# --nocapture so the end-to-end tests' measured figures (command delivery latency over the
# channel and by heartbeat) appear in the test log. The alert e-mail test mails a real SMTP
# server, Python's aiosmtpd: scripts/aiosmtpd-venv.sh installs it once (from PyPI, into the
# user's cache directory) and prints the python the test runs it with. Under CI=true a
# failure to install it fails here; elsewhere the test says loudly that it skipped.
# RUST_LIB_BACKTRACE=0: a test that fails with an error prints its message without the
# 40-frame backtrace CI's RUST_BACKTRACE=1 would add (a panic still prints its own).
rust-test:
	cargo build --workspace --bins
	if py=$$(scripts/aiosmtpd-venv.sh); then \
	  export BREEZE_AIOSMTPD_PYTHON="$$py"; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "aiosmtpd could not be installed (CI=true)" >&2; exit 1; \
	fi; \
	RUST_LIB_BACKTRACE=0 cargo test --workspace -- --nocapture

browser-test:
	scripts/browser-e2e.sh

## Schemathesis against a real server from its OpenAPI document (SQLite, and PostgreSQL when
## BREEZE_TEST_DATABASE_URL is set). Longer: BREEZE_FUZZ_MAX_EXAMPLES=100 make api-fuzz
api-fuzz:
	scripts/api-fuzz.sh
# The console's API types (web/src/api/schema.d.ts) must be the ones generated from the
# freshly built server's OpenAPI document; `npm --prefix web run gen:api` regenerates them.
.PHONY: api-types
api-types: web-deps
	scripts/check-api-types.sh

# Format, lints, and the supply chain (deny.toml: allowed licenses, banned and duplicate
# crates, crates.io as the only source). Advisories need the network; see the README.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo deny check licenses bans sources

## Binaries to ship, stripped and LTO-optimised ([profile.dist] in Cargo.toml): the server
## with the web console embedded, and the agent, in target/dist.
dist: web
	cargo build --profile dist -p breeze-cli -p breeze-agent
	@for f in $(TARGET_DIR)/dist/breeze $(TARGET_DIR)/dist/breeze-agent; do \
	  printf '%-26s %10d bytes (%s)\n' "$$f" "$$(stat -c %s "$$f")" "$$(du -h "$$f" | cut -f1)"; \
	done
