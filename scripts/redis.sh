#!/usr/bin/env bash
# Makes sure redis-server is installed, for the tests of the Redis state
# backend (internal/redisstore, internal/daemon). The tests start their own
# redis-server on a free loopback port, without persistence, and stop it
# afterwards; this script only installs the binary.
#
# Looks on PATH and in /usr/bin, /usr/sbin, /usr/local/bin; when missing,
# installs the Debian package (CI runs as root on Debian; elsewhere sudo is
# used if present). Prints the path and version it found.
set -euo pipefail

find_redis() {
	command -v redis-server 2>/dev/null && return 0
	for d in /usr/bin /usr/sbin /usr/local/bin; do
		[ -x "$d/redis-server" ] && { echo "$d/redis-server"; return 0; }
	done
	return 1
}

if ! bin=$(find_redis); then
	echo "redis.sh: redis-server not found; installing the Debian package" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			echo "redis.sh: not root and no sudo: install redis-server (apt-get install -y redis-server)" >&2
			exit 1
		fi
	fi
	if ! command -v apt-get >/dev/null; then
		echo "redis.sh: no apt-get: install redis-server with your package manager" >&2
		exit 1
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	bin=$(find_redis) || { echo "redis.sh: redis-server still not found after installing" >&2; exit 1; }
fi
echo "redis.sh: $("$bin" --version | cut -d' ' -f1-3) at $bin"
