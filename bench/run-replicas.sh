#!/usr/bin/env bash
# The agent load of bench/run.sh on two `breeze serve` replicas sharing one PostgreSQL
# database and one NATS server (issue 14), agents split across them (agent i on replica
# i % 2). Setup and the commands queued through the API go to the first replica, so a
# command for an agent on the second reaches it through a NATS wake-up.
#   bench/run-replicas.sh postgres 10000 60 180
#   bench/run-replicas.sh postgres 10000 60 180 --alert-rules 20   # extra flags go to breeze-loadgen
# The first argument is ignored (replicas need PostgreSQL); it keeps run.sh's order.
# Needs postgres://postgres@127.0.0.1:5432 (trust) and nats://127.0.0.1:4222.
# BREEZE_BENCH_PROFILE=debug runs debug binaries (`cargo build --workspace --bins`), for a
# smoke test; the default is release, as run.sh.
set -euo pipefail
agents=${2:-1000}; interval=${3:-60}; duration=${4:-120}
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
db=breeze_bench_rep
db_url="postgres://postgres@127.0.0.1:5432/$db"
run=$(mktemp -d /tmp/breeze-bench-rep.XXXXXX)
data_a="$run/a"; data_b="$run/b"
mkdir -p "$data_a" "$data_b"
port_a=$((20000 + RANDOM % 20000)); port_b=$((port_a + 1))
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
# One cluster: the same database, NATS subject prefix (unique to this run, so another
# run's replicas on the same NATS server stay out of it), master key and signing key.
key() { head -c 32 /dev/urandom | base64 -w0; }
cat >"$run/breeze.toml" <<EOF
database_url = "$db_url"
nats_url = "nats://127.0.0.1:4222"
nats_prefix = "bench_$(basename "$run" | tr -c 'A-Za-z0-9_\n' _)"
master_key = "$(key)"
signing_key = "$(key)"
EOF
# Every held channel is an open file on both sides: raise the limit as far as allowed.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pids=()
# The data (and the database) go when the run ends; BREEZE_BENCH_KEEP=1 keeps them.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${BREEZE_BENCH_KEEP:-}" ] && { echo "kept $run (database $db)" >&2; return; }
  for d in "$data_a" "$data_b"; do
    [ -f "$d/server.log" ] || continue
    echo "$(basename "$d") server log: $(grep -c ERROR "$d/server.log") ERROR lines; first ones:" >&2
    grep ERROR "$d/server.log" | head -3 >&2 || true
  done
  rm -rf "$run"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
serve() { # DATA PORT
  RUST_LOG=warn "$bin/breeze" --data-dir "$1" --config "$run/breeze.toml" \
    serve --listen "127.0.0.1:$2" 2>"$1/server.log" &
  pids+=($!)
}
ready() { # PORT: waits (up to 120 s) until /ready answers 200
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ready")" = 200 ] && return
    sleep 0.2
  done
  echo "127.0.0.1:$1 not ready after 120 s" >&2; return 1
}
# One after the other: the first runs the migrations and writes the setup token the
# load generator uses (each process has its own), the second starts on a migrated
# database.
serve "$data_a" "$port_a"
ready "$port_a"
for _ in $(seq 100); do [ -f "$data_a/setup-token" ] && break; sleep 0.2; done
serve "$data_b" "$port_b"
ready "$port_b"
echo "engine postgres, 2 replicas: pid ${pids[0]} on :$port_a, pid ${pids[1]} on :$port_b, data $run, open files $(ulimit -n), $profile, $(git -C "$root" rev-parse --short HEAD)"
"$bin/breeze-loadgen" --server "http://127.0.0.1:$port_a" --replica "http://127.0.0.1:$port_b" \
  --setup-data-dir "$data_a" --agents "$agents" --interval "$interval" --duration "$duration" \
  --server-pid "${pids[0]}" --server-pid "${pids[1]}" --postgres-db "$db" "$@"
