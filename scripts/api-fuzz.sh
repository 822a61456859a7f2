#!/usr/bin/env bash
# API fuzz run: Schemathesis against a real `breeze serve`, generated from the OpenAPI
# document the server itself serves (/api/openapi.json). The document is the contract:
# every answer must be a documented status, with the documented content type and schema,
# and never a 5xx.
#
# For each engine (SQLite always; PostgreSQL too when BREEZE_TEST_DATABASE_URL is set, in a
# fresh schema dropped afterwards) it starts the server on a loopback port with a throwaway
# data directory, completes first-run setup through the API, creates an organization, a
# site and an enrollment key, enrolls a device through the agent enrollment API, and runs
# Schemathesis twice:
#   * the user API with the Partner Admin's bearer token (every operation not tagged `agents`);
#   * the agent API with the enrolled agent's token (tag `agents`; the path's device id is
#     pinned to the enrolled device so the calls reach the handlers instead of 404).
# Checks: not_a_server_error, status_code_conformance, content_type_conformance,
# response_schema_conformance. Any failure fails the script.
#
# Not fuzzed, and why:
#   * POST /api/v1/auth/logout: it revokes the token the rest of the run uses.
#   * GET /api/v1/events: a Server-Sent Events stream that stays open until the token
#     expires; Schemathesis would wait on it until its request timeout every time.
# (There is no password-change route; setup is fuzzed after it is completed, when it
# answers 4xx.)
#
# Environment:
#   BREEZE_FUZZ_MAX_EXAMPLES  examples per operation and phase (default 5: a few minutes).
#                             A longer run: BREEZE_FUZZ_MAX_EXAMPLES=100 scripts/api-fuzz.sh
#   BREEZE_FUZZ_SEED          a fixed seed to reproduce a run (default: random, printed).
#   BREEZE_FUZZ_VENV          where the Python virtualenv lives (default: the user's cache
#                             directory; created once, reused afterwards).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

SCHEMATHESIS_VERSION=4.32.5
max_examples="${BREEZE_FUZZ_MAX_EXAMPLES:-5}"
seed="${BREEZE_FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
venv="${BREEZE_FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/breeze/schemathesis-$SCHEMATHESIS_VERSION}"

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
st="$venv/bin/schemathesis"

bin="${CARGO_TARGET_DIR:-$root/target}/debug/breeze"
[ -x "$bin" ] || cargo build -p breeze-cli

work=$(mktemp -d)
server=""
pg_schema=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "$pg_schema" ]; then
    psql -q "$BREEZE_TEST_DATABASE_URL" -c "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Schemathesis keeps a cache (.schemathesis/) in the current directory: not in the tree.
cd "$work"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Setup, organization, site, enrollment key and an enrolled device, through the API.
# Prints "<admin access token> <agent token> <device id> <org id> <site id>".
provision() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request

base, data_dir = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)

setup_token = open(f"{data_dir}/setup-token").read().strip()
tokens = call("POST", "/api/v1/setup", {
    "setup_token": setup_token, "partner_name": "Fuzz MSP", "admin_name": "Fuzz Admin",
    "admin_email": "fuzz@example.com", "admin_password": "correct horse battery staple"})
admin = tokens["access_token"]
org = call("POST", "/api/v1/orgs", {"name": "Fuzz Customer"}, admin)
site = call("POST", f"/api/v1/orgs/{org['id']}/sites", {"name": "Main office"}, admin)
key = call("POST", "/api/v1/enrollment-keys",
           {"org_id": org["id"], "site_id": site["id"], "name": "fuzz"}, admin)
enrolled = call("POST", "/api/v1/agents/enroll", {
    "protocol_version": 1, "enrollment_key": key["key"], "hostname": "fuzz-host",
    "os_type": "linux", "os_version": "12", "architecture": "amd64",
    "agent_version": "0.0.0", "fingerprint": "f" * 64, "hardware": {}})
print(admin, enrolled["auth_token"], enrolled["device_id"], org["id"], site["id"])
PY
}

# run_engine NAME [DATABASE_URL]
run_engine() {
  local name=$1 db_url=${2:-}
  local data="$work/$name" port
  port=$(free_port)
  local url="http://127.0.0.1:$port"
  mkdir -p "$data"
  local args=(serve --data-dir "$data" --listen "127.0.0.1:$port")
  [ -n "$db_url" ] && args+=(--database-url "$db_url")
  "$bin" "${args[@]}" >"$data/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 150); do
    curl -fsS "$url/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "$url/health" >/dev/null || { cat "$data/server.log"; exit 1; }

  local admin agent device org site
  read -r admin agent device org site < <(provision "$url" "$data")

  # Path ids name the objects just created, so the calls reach the handlers instead of
  # answering 404. The agent routes must name the enrolled device: another device's id
  # would (rightly) suspend the token, and every later call would be refused.
  cat >"$data/schemathesis.toml" <<EOF
[[operations]]
include-tag = "agents"
parameters = { "path.id" = "$device" }

[[operations]]
include-path-regex = "^/api/v1/devices/[{]id[}]"
parameters = { "path.id" = "$device" }

[[operations]]
include-path-regex = "^/api/v1/orgs/[{]id[}]"
parameters = { "path.id" = "$org" }

[[operations]]
include-path-regex = "^/api/v1/sites/[{]id[}]"
parameters = { "path.id" = "$site" }
EOF

  local common=(
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
    --max-examples "$max_examples" --seed "$seed" --request-timeout 10
    --suppress-health-check all --no-color
  )
  local failed=0
  # The agent first: the user run may decommission or quarantine its device.
  echo "=== $name: agent API (agent token), $max_examples examples per operation, seed $seed"
  "$st" --config-file "$data/schemathesis.toml" run "$url/api/openapi.json" "${common[@]}" \
    -H "Authorization: Bearer $agent" \
    --include-tag agents \
    || failed=1
  echo "=== $name: user API (Partner Admin token)"
  "$st" --config-file "$data/schemathesis.toml" run "$url/api/openapi.json" "${common[@]}" \
    -H "Authorization: Bearer $admin" \
    --exclude-tag agents \
    --exclude-path /api/v1/auth/logout --exclude-path /api/v1/events \
    || failed=1
  if grep -q "internal error\|panicked" "$data/server.log"; then
    echo "--- $name server log: internal errors ---" >&2
    grep -B2 -A2 "internal error\|panicked" "$data/server.log" | tail -40 >&2
    failed=1
  fi
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  if [ "$failed" != 0 ]; then
    echo "API fuzz run FAILED on $name (seed $seed)" >&2
    exit 1
  fi
}

run_engine sqlite
if [ -n "${BREEZE_TEST_DATABASE_URL:-}" ]; then
  command -v psql >/dev/null || { echo "psql is needed to create the PostgreSQL schema" >&2; exit 1; }
  pg_schema="fuzz_$(python3 -c 'import uuid; print(uuid.uuid4().hex)')"
  psql -q "$BREEZE_TEST_DATABASE_URL" -c "CREATE SCHEMA $pg_schema" >/dev/null
  sep='?'
  case "$BREEZE_TEST_DATABASE_URL" in *\?*) sep='&' ;; esac
  run_engine postgres "${BREEZE_TEST_DATABASE_URL}${sep}options=-c%20search_path%3D$pg_schema"
fi
echo "API fuzz run passed (seed $seed)"
