#!/usr/bin/env bash
# A fleet bigger than one process may hold: R `breeze serve` replicas (PostgreSQL + NATS
# when R > 1) and K load generator processes, each holding its share of the channels
# (agent i of the fleet talks to replica i % R). Every process may open only `ulimit -Hn`
# files, and a held channel is one on each side, so a fleet of N agents needs
# R, K >= N / (that limit - some headroom).
#   bench/run-fleet.sh postgres 100000 60 120                 # R and K from the open-file limit
#   BREEZE_REPLICAS=6 BREEZE_LOADGENS=6 bench/run-fleet.sh postgres 100000 60 120
#   bench/run-fleet.sh postgres 50000 60 120 --big-inventory-percent 5   # extra flags go to every breeze-loadgen
#   bench/run-fleet.sh sqlite 15000 60 120                    # SQLite: one server (R = 1)
# The load generators wait for each other at each stage (enrolled, channels open,
# measured window), so their windows coincide; the first runs setup, measures the servers'
# CPU and memory, and runs the closed-loop probes. Each prints its own figures
# (<run>/gen-K.log); `breeze-loadgen --merge` prints the fleet's at the end.
# Needs postgres://postgres@127.0.0.1:5432 (trust) and nats://127.0.0.1:4222 for
# PostgreSQL. BREEZE_BENCH_PROFILE=debug runs debug binaries, for a smoke test.
set -euo pipefail
engine=${1:-postgres}; agents=${2:-1000}; interval=${3:-60}; duration=${4:-120}
shift $(( $# < 4 ? $# : 4 ))
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
profile=${BREEZE_BENCH_PROFILE:-release}
# The package set `make` builds (`cargo build --workspace --bins`), as run.sh explains.
if [ "$profile" = release ]; then
  cargo build --release --workspace --bins >&2
else
  cargo build --workspace --bins >&2
fi
bin="$target/$profile"
# Every held channel is an open file on both sides: raise the limit as far as allowed.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
files=$(ulimit -n)
# Each process keeps 30 % of its files for its pool, listeners and HTTP connections: under
# load a server's requests take longer, the load generators' HTTP clients open more
# connections, and at 100,000 agents over 6 replicas (16,667 channels each) both sides
# reached the 20,000 cap ("accept error: Too many open files").
per_process=$(( files * 7 / 10 ))
need=$(( (agents + per_process - 1) / per_process ))
replicas=${BREEZE_REPLICAS:-$need}
loadgens=${BREEZE_LOADGENS:-$need}
if [ "$engine" = sqlite ] && [ "$replicas" != 1 ]; then
  echo "SQLite is one server: $agents agents need $replicas servers at $files open files each" >&2
  exit 1
fi
run=$(mktemp -d /tmp/breeze-bench-fleet.XXXXXX)
db=breeze_bench_fleet
pids=()
gens=()
# The data (and the database) go when the run ends; BREEZE_BENCH_KEEP=1 keeps them.
# A failed run keeps them, for its logs.
cleanup() {
  local code=$?
  for p in "${gens[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${gens[@]}" "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${BREEZE_BENCH_KEEP:-}" ] || [ "$code" != 0 ]; then
    echo "kept $run (database $db)" >&2
    return
  fi
  for ((r = 0; r < replicas; r++)); do
    log="$run/s$r/server.log"
    [ -f "$log" ] || continue
    echo "server $r log: $(grep -c ERROR "$log") ERROR lines; first ones:" >&2
    grep ERROR "$log" | head -3 >&2 || true
  done
  rm -rf "$run"
  if [ "$engine" = postgres ]; then psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" || true; fi
}
trap cleanup EXIT
key() { head -c 32 /dev/urandom | base64 -w0; }
: >"$run/breeze.toml"
gen_args=()
if [ "$engine" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  # One cluster: the same database, NATS subject prefix (unique to this run), master
  # key and signing key.
  # The replicas' pools together stay under the server's max_connections (keeping 10 for
  # psql and the load generators' samplers): 8 replicas at the default 16 would ask for
  # 128 of 100, and requests then time out waiting for a connection.
  max_conn=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "SHOW max_connections")
  pool=$(( (max_conn - 10) / replicas ))
  pool=$(( pool > 16 ? 16 : pool ))
  cat >"$run/breeze.toml" <<EOF
database_url = "postgres://postgres@127.0.0.1:5432/$db"
db_max_connections = $pool
master_key = "$(key)"
signing_key = "$(key)"
EOF
  if [ "$replicas" -gt 1 ]; then
    cat >>"$run/breeze.toml" <<EOF
nats_url = "nats://127.0.0.1:4222"
nats_prefix = "bench_$(basename "$run" | tr -c 'A-Za-z0-9_\n' _)"
EOF
  fi
  gen_args+=(--postgres-db "$db")
fi
ready() { # PORT: waits (up to 120 s) until /ready answers 200
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ready")" = 200 ] && return
    sleep 0.2
  done
  echo "127.0.0.1:$1 not ready after 120 s" >&2; return 1
}
base=$((20000 + RANDOM % 20000))
urls=()
# One after the other: the first runs the migrations and writes the setup token.
for ((r = 0; r < replicas; r++)); do
  mkdir -p "$run/s$r"
  RUST_LOG=warn "$bin/breeze" --data-dir "$run/s$r" --config "$run/breeze.toml" \
    serve --listen "127.0.0.1:$((base + r))" 2>"$run/s$r/server.log" &
  pids+=($!)
  ready "$((base + r))"
  urls+=("http://127.0.0.1:$((base + r))")
done
servers=(--server "${urls[0]}")
for u in "${urls[@]:1}"; do servers+=(--replica "$u"); done
pid_args=()
for p in "${pids[@]}"; do pid_args+=(--server-pid "$p"); done
echo "engine $engine, $replicas server(s) (pids ${pids[*]}, ports $base..$((base + replicas - 1))), $loadgens load generator(s), open files $files, $profile, $(git -C "$root" rev-parse --short HEAD), run $run"
"$bin/breeze-loadgen" "${servers[@]}" --setup-data-dir "$run/s0" --credentials "$run/credentials.json" \
  --setup-only "${gen_args[@]}" "$@" >"$run/setup.log"
# The commands queued through the API: 5/s for the whole fleet unless "$@" says otherwise.
cps=$(awk "BEGIN { print 5 / $loadgens }")
share=$(( (agents + loadgens - 1) / loadgens ))
for ((k = 0; k < loadgens; k++)); do
  first=$(( k * share ))
  n=$(( agents - first < share ? agents - first : share ))
  extra=()
  # The first load generator measures the servers and probes them; the others only drive.
  if [ "$k" = 0 ]; then extra=("${pid_args[@]}" "${gen_args[@]}"); else extra=(--probe-secs 0); fi
  "$bin/breeze-loadgen" "${servers[@]}" --credentials "$run/credentials.json" \
    --first-agent "$first" --agents "$n" --interval "$interval" --duration "$duration" \
    --barrier "$run/barrier:$loadgens" --json-out "$run/gen-$k.json" --commands-per-sec "$cps" \
    "${extra[@]}" "$@" >"$run/gen-$k.log" 2>&1 &
  gens+=($!)
done
# A load generator that fails stops the fleet (the others would wait for it at a stage):
# the cleanup kills them.
declare -A which
for ((k = 0; k < loadgens; k++)); do which[${gens[$k]}]=$k; done
running=("${gens[@]}")
while [ ${#running[@]} -gt 0 ]; do
  done_pid=
  status=0
  wait -n -p done_pid "${running[@]}" || status=$?
  if [ "$status" != 0 ]; then
    k=${which[$done_pid]:-?}
    echo "load generator $k failed (exit $status):" >&2
    tail -5 "$run/gen-$k.log" >&2
    exit "$status"
  fi
  left=()
  for p in "${running[@]}"; do [ "$p" = "$done_pid" ] || left+=("$p"); done
  running=("${left[@]}")
done
gens=()
echo "--- load generator 0 (servers, probes) ---"
cat "$run/gen-0.log"
echo "--- the fleet ($loadgens load generators) ---"
"$bin/breeze-loadgen" --merge "$run"/gen-*.json
