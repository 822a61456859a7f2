#!/usr/bin/env bash
# Reproduces the "Web console" figures in BENCHMARKS.md: the production bundle's size and
# the devices page's first load in headless Chromium with N devices (default 10 000).
#   bench/ui.sh            # 10 000 devices, 5 cold loads
#   bench/ui.sh 20000 3
# Builds the UI and release binaries, starts a fresh `breeze serve` on SQLite, enrolls N
# simulated agents with breeze-loadgen (they heartbeat, so the devices are online), then
# runs web/e2e/firstload.ts.
set -euo pipefail
devices=${1:-10000}; runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cd "$root"
make -s web-deps >&2   # npm ci when node_modules is older than the lockfile
npm --prefix web run build >&2
echo "## bundle (web/dist/assets)"
( cd web/dist/assets && for f in *.js *.css; do printf '%-40s %8d B  %7d B gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"; done )
total=$(cat web/dist/assets/*.js web/dist/assets/*.css | wc -c)
total_gz=$(for f in web/dist/assets/*.js web/dist/assets/*.css; do gzip -9c "$f" | wc -c; done | awk '{s+=$1} END {print s}')
echo "all assets: $total B, $total_gz B gzip"
first=$(grep -oE '(src|href)="/assets/[^"]+\.(js|css)"' web/dist/index.html | sed -E 's/.*"\/assets\/([^"]+)"/\1/')
first_gz=0
for f in $first; do first_gz=$((first_gz + $(gzip -9c "web/dist/assets/$f" | wc -c))); done
echo "index.html entry assets ($(echo "$first" | tr '\n' ' ')): $first_gz B gzip"

# The package set `make` builds (`cargo build --workspace --bins`), in release. Building a
# subset (`-p breeze-cli -p breeze-bench`) unifies dependency features differently from
# every other build here, so Cargo recompiled most of the tree for it.
cargo build --release --workspace --bins >&2
data=$(mktemp -d /tmp/breeze-ui-bench.XXXXXX)
port=$((20000 + RANDOM % 20000))
ulimit -n 65536 2>/dev/null || true
RUST_LOG=warn "$target/release/breeze" --data-dir "$data" serve --listen "127.0.0.1:$port" 2>"$data/server.log" &
server=$!
trap 'kill $server $loadgen 2>/dev/null; wait 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do [ -f "$data/setup-token" ] && break; sleep 0.2; done
# Enroll and keep heartbeating while the browser measures.
"$target/release/breeze-loadgen" --server "http://127.0.0.1:$port" --setup-data-dir "$data" \
  --agents "$devices" --interval 60 --duration 900 --server-pid "$server" >"$data/loadgen.log" 2>&1 &
loadgen=$!
until grep -q "enrolled" "$data/loadgen.log" 2>/dev/null; do
  kill -0 $loadgen 2>/dev/null || { cat "$data/loadgen.log"; exit 1; }
  sleep 1
done
cat "$data/loadgen.log"
BREEZE_URL="http://127.0.0.1:$port" BENCH_RUNS="$runs" BENCH_EXPECT="$devices" \
  E2E_ARTIFACTS="$data/shots" npm --prefix web run --silent bench:firstload
