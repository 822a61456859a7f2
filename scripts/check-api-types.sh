#!/usr/bin/env bash
# Fails when the committed console types (web/src/api/schema.d.ts) differ from the types
# generated from the server's OpenAPI document: a server change that moved a field, a
# parameter or an enum value must reach the console (and its type check) in the same commit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
committed="$root/web/src/api/schema.d.ts"
fresh="$(mktemp --suffix=.d.ts)"
trap 'rm -f "$fresh"' EXIT
"$root/scripts/gen-api-types.sh" "$fresh"
if ! diff -u --label "committed web/src/api/schema.d.ts" --label "generated from the server's OpenAPI document" "$committed" "$fresh" >"$fresh.diff"; then
  echo "error: web/src/api/schema.d.ts is stale: it differs from the types generated from the server's OpenAPI document." >&2
  head -n 80 "$fresh.diff" >&2
  lines=$(wc -l <"$fresh.diff")
  [[ $lines -gt 80 ]] && echo "... ($lines lines of diff in all)" >&2
  rm -f "$fresh.diff"
  echo >&2
  echo "Regenerate and commit it:  npm --prefix web run gen:api  (then npm --prefix web run typecheck)" >&2
  exit 1
fi
rm -f "$fresh.diff"
echo "web/src/api/schema.d.ts matches the server's OpenAPI document"
