#!/usr/bin/env bash
# A Python virtualenv with aiosmtpd, for the API test that mails an alert to a real SMTP
# server (crates/server/tests/api/mail_aiosmtpd.rs, which runs scripts/aiosmtpd-sink.py).
# Created once under the user's cache directory, as scripts/api-fuzz.sh does for
# Schemathesis, and reused afterwards. Prints the virtualenv's python on stdout (and
# nothing else there): `make test` runs it before `cargo test` and exports the path as
# BREEZE_AIOSMTPD_PYTHON; the test runs it itself when that variable is not set.
#
# Environment:
#   BREEZE_AIOSMTPD_VENV  where the virtualenv lives (default: the user's cache directory).
set -euo pipefail

AIOSMTPD_VERSION=1.4.6
venv="${BREEZE_AIOSMTPD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/breeze/aiosmtpd-$AIOSMTPD_VERSION}"
py="$venv/bin/python"

ready() { "$py" -c 'import aiosmtpd' >/dev/null 2>&1; }

if ! ready; then
  command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
  mkdir -p "$(dirname "$venv")"
  # One installer at a time (`make test` and a test binary, or two test binaries).
  if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
  fi
  if ! ready; then
    echo "installing aiosmtpd $AIOSMTPD_VERSION into $venv" >&2
    # Over a half-made virtualenv (an interrupted earlier run), venv and pip just redo it.
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" >&2
    "$py" -c 'import aiosmtpd' >&2
  fi
fi
echo "$py"
