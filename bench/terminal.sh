#!/usr/bin/env bash
# Reproduces the "Remote access: terminal keystroke round trip" figure in BENCHMARKS.md.
#   bench/terminal.sh [keystrokes]
# Builds release binaries, starts a fresh `breeze serve` (SQLite), and runs
# breeze-bench-terminal: a real breeze-agent is enrolled and started, a terminal session
# opened, and one byte at a time is sent through the relay and timed until its echo.
set -euo pipefail
keystrokes=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --workspace --bins >&2
data=$(mktemp -d /tmp/breeze-bench-term.XXXXXX)
port=$((20000 + RANDOM % 20000))
RUST_LOG=warn "$target/release/breeze" --data-dir "$data" serve --listen "127.0.0.1:$port" 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$data/setup-token" ] && break; sleep 0.2; done
"$target/release/breeze-bench-terminal" --server "http://127.0.0.1:$port" --setup-data-dir "$data" \
  --agent-bin "$target/release/breeze-agent" --keystrokes "$keystrokes"
