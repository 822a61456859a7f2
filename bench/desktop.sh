#!/usr/bin/env bash
# Reproduces the "Remote desktop through the relay" figures in BENCHMARKS.md.
#   bench/desktop.sh [seconds per scenario]
# Builds release binaries, starts a fresh `breeze serve` (SQLite), and runs
# breeze-bench-desktop --server: it starts Xvfb 1920x1080, enrolls and starts a real
# breeze-agent on that display, opens desktop sessions and reads their sockets as the
# console does (a static screen, then a moving window), sampling the server's RSS.
set -euo pipefail
seconds=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --workspace --bins >&2
data=$(mktemp -d /tmp/breeze-bench-desk.XXXXXX)
port=$((20000 + RANDOM % 20000))
RUST_LOG=warn "$target/release/breeze" --data-dir "$data" serve --listen "127.0.0.1:$port" 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$data/setup-token" ] && break; sleep 0.2; done
"$target/release/breeze-bench-desktop" --server "http://127.0.0.1:$port" --setup-data-dir "$data" \
  --agent-bin "$target/release/breeze-agent" --server-pid "$server" --seconds "$seconds"
