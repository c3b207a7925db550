#!/usr/bin/env bash
# Makes sure Prometheus Alertmanager is installed, for the tests of the
# alertmanager notifier (internal/alerting). The tests start their own
# alertmanager on a free loopback port with a temporary configuration and
# storage directory, and stop it afterwards; this script only installs the
# binary.
#
# Looks on PATH and in /usr/bin, /usr/sbin, /usr/local/bin (as
# "prometheus-alertmanager", Debian's name, or "alertmanager"); when
# missing, installs the Debian package prometheus-alertmanager (CI runs as
# root on Debian; elsewhere sudo is used if present). Prints the path and
# version it found.
set -euo pipefail

find_alertmanager() {
	for n in prometheus-alertmanager alertmanager; do
		command -v "$n" 2>/dev/null && return 0
		for d in /usr/bin /usr/sbin /usr/local/bin; do
			[ -x "$d/$n" ] && { echo "$d/$n"; return 0; }
		done
	done
	return 1
}

if ! bin=$(find_alertmanager); then
	echo "alertmanager.sh: alertmanager not found; installing the Debian package" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			echo "alertmanager.sh: not root and no sudo: install prometheus-alertmanager (apt-get install -y prometheus-alertmanager)" >&2
			exit 1
		fi
	fi
	if ! command -v apt-get >/dev/null; then
		echo "alertmanager.sh: no apt-get: install prometheus-alertmanager with your package manager" >&2
		exit 1
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# --no-install-recommends: the binary only; the tests run it themselves.
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
	bin=$(find_alertmanager) || { echo "alertmanager.sh: alertmanager still not found after installing" >&2; exit 1; }
fi
echo "alertmanager.sh: $("$bin" --version 2>&1 | head -1) at $bin"
