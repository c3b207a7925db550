#!/usr/bin/env bash
# Makes sure Prometheus Alertmanager is installed, for the tests of the
# alertmanager notifier (internal/alerting). The tests start their own
# alertmanager on a free loopback port with a temporary configuration and
# storage directory, and stop it afterwards; this script only installs the
# binary (Debian's prometheus-alertmanager, through scripts/debian-tool.sh)
# and prints the path and version it found.
set -euo pipefail
bin=$(CALLER=alertmanager.sh "$(dirname "$0")/debian-tool.sh" prometheus-alertmanager prometheus-alertmanager alertmanager)
echo "alertmanager.sh: $("$bin" --version 2>&1 | head -1) at $bin"
