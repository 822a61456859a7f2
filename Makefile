# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
LISTEN ?= 127.0.0.1:3001
DATA_DIR ?= ./breeze-data

.PHONY: run test web web-deps web-check rust-test browser-test api-fuzz lint bench

## Build the web console, the server and the agent (release) and run Breeze on SQLite in
## $(DATA_DIR). The server serves target/release/breeze-agent at /download/agent/<os>-<arch>
## and /install.sh (see "Add your first device" in the README).
run: web
	cargo build --release -p breeze-cli -p breeze-agent
	cargo run --release -p breeze-cli -- serve --data-dir $(DATA_DIR) --listen $(LISTEN)

# Not `npm ci`: the registry mirror this project builds against lacks some of tailwind's
# optional per-platform binaries at the locked version, and npm ci refuses a lockfile whose
# optional entries it cannot resolve. `npm install` honours the committed lockfile
# (it is left unchanged) and skips unavailable optional packages.
web-deps:
	npm --prefix web install --no-audit --no-fund

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
# channel and by heartbeat) appear in the test log.
rust-test:
	cargo build --workspace --bins
	cargo test --workspace -- --nocapture

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

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
