#!/bin/sh
# Breeze agent installer, served by the Breeze server at /install.sh.
#
#   curl -fsSL <server>/install.sh | sudo sh -s -- --key <enrollment key>
#
# Downloads the agent for this machine from the server, checks its SHA-256, enrolls it
# with the key and installs the systemd service (or, with --no-service, runs the agent
# in the foreground). Run it again to upgrade the binary; an enrolled machine keeps its
# credentials unless --force is given.
set -eu

BREEZE_SERVER=__BREEZE_SERVER__

usage() {
	cat <<EOF
Usage: install.sh --key KEY [options]

  --key KEY          site enrollment key (or --token TOKEN: a device enrollment token)
  --no-service       do not install the systemd service; run the agent in the foreground
  --prefix DIR       install under DIR: DIR/bin/breeze-agent and DIR/state
                     (default: /usr/local/bin and /var/lib/breeze-agent)
  --state-dir DIR    where the agent keeps its credentials and queue
  --site SITE_ID     site to enroll into, when the key allows several
  --server URL       the Breeze server (default: $BREEZE_SERVER)
  --force            enroll again even if this machine is enrolled
EOF
}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

say() {
	echo "==> $*" >&2
}

need_value() {
	[ "$2" -ge 2 ] || die "$1 needs a value"
}

key=""
token=""
site=""
service=1
force=0
prefix=""
state_dir=""
while [ $# -gt 0 ]; do
	case "$1" in
	--key) need_value "$1" $#; key=$2; shift 2 ;;
	--key=*) key=${1#--key=}; shift ;;
	--token) need_value "$1" $#; token=$2; shift 2 ;;
	--token=*) token=${1#--token=}; shift ;;
	--site) need_value "$1" $#; site=$2; shift 2 ;;
	--site=*) site=${1#--site=}; shift ;;
	--prefix) need_value "$1" $#; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#--prefix=}; shift ;;
	--state-dir) need_value "$1" $#; state_dir=$2; shift 2 ;;
	--state-dir=*) state_dir=${1#--state-dir=}; shift ;;
	--server) need_value "$1" $#; BREEZE_SERVER=$2; shift 2 ;;
	--server=*) BREEZE_SERVER=${1#--server=}; shift ;;
	--no-service) service=0; shift ;;
	--force) force=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
done

if [ -z "$key" ] && [ -z "$token" ]; then
	usage >&2
	die "--key is required (create an enrollment key in the console: Enrollment keys -> New key)"
fi
if [ -n "$key" ] && [ -n "$token" ]; then
	die "give --key or --token, not both"
fi
BREEZE_SERVER=${BREEZE_SERVER%/}

case "$(uname -s)" in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) die "unsupported operating system: $(uname -s) (this script installs on Linux and macOS)" ;;
esac
case "$(uname -m)" in
x86_64 | amd64) arch=x86_64 ;;
aarch64 | arm64) arch=aarch64 ;;
*) die "unsupported architecture: $(uname -m)" ;;
esac
platform="$os-$arch"

if [ -n "$prefix" ]; then
	bin_dir="$prefix/bin"
	[ -n "$state_dir" ] || state_dir="$prefix/state"
else
	bin_dir=/usr/local/bin
	[ -n "$state_dir" ] || state_dir=/var/lib/breeze-agent
fi

if [ "$service" = 1 ]; then
	[ "$os" = linux ] || die "the service is installed with systemd, on Linux only; pass --no-service and run the agent under your own service manager"
	[ "$(id -u)" = 0 ] || die "installing the service needs root: run with sudo, or pass --no-service"
	command -v systemctl >/dev/null 2>&1 || die "systemctl not found: pass --no-service and run the agent under your own service manager"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t breeze-agent)
trap 'rm -rf "$tmp"' EXIT INT TERM

url="$BREEZE_SERVER/download/agent/$platform"
say "downloading the agent for $platform from $url"
if command -v curl >/dev/null 2>&1; then
	if ! curl -fsSL -D "$tmp/headers" -o "$tmp/breeze-agent" "$url"; then
		curl -sSL "$url" >&2 || true
		echo >&2
		die "download failed"
	fi
elif command -v wget >/dev/null 2>&1; then
	wget -q -S -O "$tmp/breeze-agent" "$url" 2>"$tmp/headers" || die "download failed: $url"
else
	die "neither curl nor wget is installed"
fi

expected=$(sed -n 's/^[[:space:]]*[Xx]-[Cc]hecksum-[Ss]ha256:[[:space:]]*\([0-9A-Fa-f]*\).*$/\1/p' "$tmp/headers" | tail -n 1 | tr 'A-F' 'a-f')
[ -n "$expected" ] || die "the server sent no X-Checksum-Sha256 header"
if command -v sha256sum >/dev/null 2>&1; then
	actual=$(sha256sum "$tmp/breeze-agent" | cut -d ' ' -f 1)
elif command -v shasum >/dev/null 2>&1; then
	actual=$(shasum -a 256 "$tmp/breeze-agent" | cut -d ' ' -f 1)
else
	die "neither sha256sum nor shasum is installed: cannot verify the download"
fi
[ "$actual" = "$expected" ] || die "checksum mismatch: expected $expected, got $actual"
say "checksum verified: $actual"

mkdir -p "$bin_dir"
chmod 0755 "$tmp/breeze-agent"
# Moved into place (not copied over) so a running agent keeps its old file.
cp "$tmp/breeze-agent" "$bin_dir/.breeze-agent.new"
mv -f "$bin_dir/.breeze-agent.new" "$bin_dir/breeze-agent"
agent="$bin_dir/breeze-agent"
say "installed $agent"

if [ "$force" = 0 ] && "$agent" --state-dir "$state_dir" status 2>/dev/null | grep -q '^enrolled: *yes'; then
	say "already enrolled (state in $state_dir); keeping the credentials (pass --force to enroll again)"
else
	set -- --state-dir "$state_dir" enroll --server "$BREEZE_SERVER"
	[ -z "$site" ] || set -- "$@" --site "$site"
	[ "$force" = 0 ] || set -- "$@" --force
	say "enrolling with $BREEZE_SERVER"
	# The secret goes in the environment, not on the command line, where `ps` shows it.
	if [ -n "$key" ]; then
		BREEZE_AGENT_ENROLLMENT_KEY=$key "$agent" "$@"
	else
		BREEZE_AGENT_ENROLLMENT_TOKEN=$token "$agent" "$@"
	fi
fi

if [ "$service" = 1 ]; then
	"$agent" --state-dir "$state_dir" install
	say "the agent runs as breeze-agent.service: see it with 'systemctl status breeze-agent' and 'journalctl -u breeze-agent'"
else
	say "running the agent in the foreground (Ctrl-C stops it)"
	exec "$agent" --state-dir "$state_dir" run
fi
