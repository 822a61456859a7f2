# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
LISTEN ?= 127.0.0.1:3001
DATA_DIR ?= ./breeze-data
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)

.PHONY: run test web web-deps web-check rust-test browser-test lint bench dist

## Build the web console and the server (release) and run Breeze on SQLite in $(DATA_DIR).
run: web
	cargo run --release -p breeze-cli -- serve --data-dir $(DATA_DIR) --listen $(LISTEN)

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
test: web-check web rust-test browser-test

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
