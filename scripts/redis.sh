#!/usr/bin/env bash
# Makes sure redis-server is installed, for the tests of the Redis state
# backend (internal/redisstore, internal/daemon). The tests start their own
# redis-server on a free loopback port, without persistence, and stop it
# afterwards; this script only installs the binary (scripts/debian-tool.sh)
# and prints the path and version it found.
set -euo pipefail
bin=$(CALLER=redis.sh "$(dirname "$0")/debian-tool.sh" redis-server redis-server)
echo "redis.sh: $("$bin" --version | cut -d' ' -f1-3) at $bin"
