#!/usr/bin/env bash
# Browser tests: starts a real `breeze serve` on loopback with an empty data directory, then
# drives headless Chromium through the web console with playwright-core (web/e2e/run.ts): every
# form through the UI, the first device added with the Getting started wizard (its install
# command copied and run with --no-service against this server, which serves the agent built
# here), every device tab checked against the API. Whole-page screenshots and
# time-to-first-device.txt land in $E2E_ARTIFACTS (default artifacts/screenshots).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif [ "${CI:-}" = "true" ]; then
    echo "chromium is required for the browser tests and could not be installed" >&2
    exit 1
  else
    echo "SKIPPED browser tests: /usr/bin/chromium is not installed (apt-get install chromium)" >&2
    exit 0
  fi
fi

bin="${CARGO_TARGET_DIR:-$root/target}/debug"
[ -x "$bin/breeze" ] && [ -x "$bin/breeze-agent" ] || cargo build -p breeze-cli -p breeze-agent
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export BREEZE_URL="http://127.0.0.1:$port"
export BREEZE_DATA_DIR="$data/server"
export E2E_ARTIFACTS="${E2E_ARTIFACTS:-$root/artifacts/screenshots}"
mkdir -p "$E2E_ARTIFACTS"
rm -f "$E2E_ARTIFACTS"/admin-*.png "$E2E_ARTIFACTS"/org-user-*.png "$E2E_ARTIFACTS/time-to-first-device.txt"
# The run's mail server listens on loopback; let the server's outbound guard reach it.
BREEZE_OUTBOUND_ALLOW=127.0.0.1 "$bin/breeze" serve --data-dir "$BREEZE_DATA_DIR" --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  pkill -f -- "--state-dir $data/agent" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "$BREEZE_URL/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$BREEZE_URL/health" >/dev/null || { cat "$data/server.log"; exit 1; }
export BREEZE_AGENT_BIN="$bin/breeze-agent"
export BREEZE_AGENT_STATE_DIR="$data/agent"
if ! npm --prefix web run --silent e2e; then
  echo "--- server log ---" >&2
  tail -50 "$data/server.log" >&2
  exit 1
fi
