#!/usr/bin/env bash
# make run: the daemon on a bundled example. It tails copies of the bundled
# MCP server and ALB logs from their beginning, while a traffic generator
# keeps appending benign and attack lines (generated time runs 10x faster
# than the clock, so attacks appear within seconds). Ctrl-C stops both.
set -uo pipefail
cd "$(dirname "$0")/.."
demo=.cache/demo
rm -rf .cache/state "$demo"
mkdir -p "$demo"
cp testdata/logs/mcp-stderr.log "$demo/mcp.log"
cp testdata/logs/alb-access.log "$demo/alb.log"

# Generated time runs 10x (ALB) and 30x (MCP) faster than the clock.
bin/secwatch-loggen -follow -speed 10 -format alb -out "$demo/alb.log" -duration 30m -events 3000 -ips 150 -attackers 0.1 -seed 7 &
gen1=$!
bin/secwatch-loggen -follow -speed 30 -format mcp-text -out "$demo/mcp.log" -duration 4h -events 20000 -ips 100 -attackers 0.06 -near-misses 2 -seed 7 &
gen2=$!
trap 'kill $gen1 $gen2 2>/dev/null; wait $gen1 $gen2 2>/dev/null || true' EXIT

echo "secwatch: tailing $demo/{mcp,alb}.log with rules/mcp.yaml and rules/alb.yaml; metrics on http://127.0.0.1:9464/metrics; Ctrl-C to stop" >&2
bin/secwatch run --config examples/secwatch.yaml || code=$?
# Ctrl-C is the normal way to stop the demo.
[ "${code:-0}" = 0 ] || [ "${code:-0}" = 130 ] || exit "$code"
