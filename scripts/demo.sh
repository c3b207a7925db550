#!/usr/bin/env bash
# make run: the daemon on a bundled example. It tails copies of the bundled
# MCP server and ALB logs from their beginning, while a traffic generator
# keeps appending benign and attack lines (generated time runs 10x faster
# than the clock, so attacks appear within seconds). Ctrl-C stops both.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/demo-traffic.sh
trap 'kill $demo_pids 2>/dev/null; wait $demo_pids 2>/dev/null || true' EXIT

echo "secwatch: tailing $demo/{mcp,alb}.log with rules/mcp.yaml and rules/alb.yaml; metrics on http://127.0.0.1:9464/metrics; Ctrl-C to stop" >&2
bin/secwatch run --config examples/secwatch.yaml || code=$?
# Ctrl-C is the normal way to stop the demo.
[ "${code:-0}" = 0 ] || [ "${code:-0}" = 130 ] || exit "$code"
