#!/usr/bin/env bash
# Reproduces the "Agent load" figures in BENCHMARKS.md: a fleet of simulated agents, each
# holding its channel, with commands queued, inventories and churn (see bench/src/main.rs).
#   bench/run.sh sqlite 10000 60 180
#   bench/run.sh postgres 10000 60 180   # needs postgres://postgres@127.0.0.1:5432
# Builds release binaries, starts a fresh `breeze serve`, runs breeze-loadgen against it.
set -euo pipefail
#   bench/run.sh sqlite 10000 60 180 --alert-rules 20   # extra flags go to breeze-loadgen
#   bench/run.sh sqlite 10000 60 180 --no-channels      # heartbeats only (pre-issue-14 load)
#   BREEZE_BENCH_BIN_DIR=/path bench/run.sh …  # no build: run the `breeze` and `breeze-loadgen`
#                                              # found there (an older build, for a before/after)
engine=${1:-sqlite}; agents=${2:-1000}; interval=${3:-60}; duration=${4:-120}
shift $(( $# < 4 ? $# : 4 ))
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${BREEZE_BENCH_BIN_DIR:-}" ]; then
  bin=$BREEZE_BENCH_BIN_DIR
  build="binaries in $bin"
else
  bin=${CARGO_TARGET_DIR:-$root/target}/release
  # The package set `make` builds (`cargo build --workspace --bins`), in release. Building a
  # subset (`-p breeze-cli -p breeze-bench`) unifies dependency features differently from
  # every other build here, so Cargo recompiled most of the tree for it.
  cargo build --release --workspace --bins >&2
  build=$(git -C "$root" rev-parse --short HEAD)
fi
data=$(mktemp -d /tmp/breeze-bench.XXXXXX)
port=$((20000 + RANDOM % 20000))
db_args=()
gen_args=()
if [ "$engine" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS breeze_bench" -c "CREATE DATABASE breeze_bench"
  db_args=(--database-url postgres://postgres@127.0.0.1:5432/breeze_bench)
  gen_args+=(--postgres-db breeze_bench)
fi
# Every held channel is an open file on both sides: raise the limit as far as allowed.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
RUST_LOG=warn "$bin/breeze" --data-dir "$data" "${db_args[@]}" serve --listen "127.0.0.1:$port" 2>"$data/server.log" &
server=$!
# The data (and the breeze_bench database) go when the run ends; BREEZE_BENCH_KEEP=1 keeps them.
cleanup() {
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  [ -n "${BREEZE_BENCH_KEEP:-}" ] && { echo "kept $data" >&2; return; }
  echo "server log: $(grep -c ERROR "$data/server.log") ERROR lines; first ones:" >&2
  grep ERROR "$data/server.log" | head -3 >&2 || true
  rm -rf "$data"
  if [ "$engine" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS breeze_bench" || true
  fi
}
trap cleanup EXIT
for _ in $(seq 100); do [ -f "$data/setup-token" ] && break; sleep 0.2; done
echo "engine $engine, server pid $server, data $data, open files $(ulimit -n), $build"
"$bin/breeze-loadgen" --server "http://127.0.0.1:$port" --setup-data-dir "$data" \
  --agents "$agents" --interval "$interval" --duration "$duration" --server-pid "$server" "${gen_args[@]}" "$@"
