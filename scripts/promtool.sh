#!/usr/bin/env bash
# Makes sure promtool is installed, for the test that lints a scrape of a
# running daemon's /metrics with `promtool check metrics`
# (internal/daemon). Debian ships promtool only in its prometheus package
# (about 19 MB, with a few small javascript libraries for the server's web
# pages); --no-install-recommends leaves out the node exporter. This script
# only installs the binary (scripts/debian-tool.sh) and prints the path and
# version it found; nothing starts a Prometheus server.
set -euo pipefail
bin=$(CALLER=promtool.sh "$(dirname "$0")/debian-tool.sh" prometheus promtool)
echo "promtool.sh: $("$bin" --version 2>&1 | head -1) at $bin"
