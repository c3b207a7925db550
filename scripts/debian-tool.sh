#!/usr/bin/env bash
# debian-tool.sh PACKAGE NAME...: prints the path of the first program NAME
# found on PATH or in /usr/bin, /usr/sbin, /usr/local/bin; when none is
# there, installs the Debian package PACKAGE (CI runs as root on Debian;
# elsewhere sudo is used if present) and looks again. The tests that need a
# real server (redis-server, Alertmanager) start their own; the scripts that
# call this one only make sure the binary exists.
set -euo pipefail
pkg=$1
shift
me="${CALLER:-debian-tool.sh}"

find_tool() {
	local n d
	for n in "$@"; do
		command -v "$n" 2>/dev/null && return 0
		for d in /usr/bin /usr/sbin /usr/local/bin; do
			[ -x "$d/$n" ] && { echo "$d/$n"; return 0; }
		done
	done
	return 1
}

if ! find_tool "$@"; then
	echo "$me: $1 not found; installing the Debian package $pkg" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			echo "$me: not root and no sudo: install $pkg (apt-get install -y $pkg)" >&2
			exit 1
		fi
	fi
	if ! command -v apt-get >/dev/null; then
		echo "$me: no apt-get: install $pkg with your package manager" >&2
		exit 1
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# --no-install-recommends: the binary only; the tests run it themselves.
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
	find_tool "$@" || { echo "$me: $1 still not found after installing $pkg" >&2; exit 1; }
fi
