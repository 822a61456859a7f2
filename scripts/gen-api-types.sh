#!/usr/bin/env bash
# Generates the web console's API types from the OpenAPI document the server serves
# (`breeze openapi` prints the same document as `/api/openapi.json`, without a server).
#   scripts/gen-api-types.sh [OUT]     OUT defaults to web/src/api/schema.d.ts
# BREEZE_BIN names a built `breeze` binary to use instead of `cargo run`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/web/src/api/schema.d.ts}")"
bin="${BREEZE_BIN:+$(realpath "$BREEZE_BIN")}"
doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
cd "$root"
if [[ -n "$bin" ]]; then
  "$bin" openapi >"$doc"
else
  cargo run --quiet -p breeze-cli --bin breeze -- openapi >"$doc"
fi
# --empty-objects-unknown: a free-form JSON object (`settings`, `details`) is `unknown`
# to read, not `Record<string, never>`.
web/node_modules/.bin/openapi-typescript "$doc" --empty-objects-unknown -o "$out" >/dev/null
