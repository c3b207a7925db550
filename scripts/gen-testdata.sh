#!/bin/sh
# Regenerates the recorded logs in testdata/logs with secwatch-loggen.
# The same commands always give the same bytes; internal/loggen's
# TestRecordedLogs checks that the committed files are what they give.
# json/alb and mcp-text/mcp-cloudwatch pairs share their flags: each pair
# is two views of the same simulated traffic.
set -eu
cd "$(dirname "$0")/.."
out=testdata/logs
gen="go run ./cmd/secwatch-loggen"

perip="-seed 1 -events 500 -ips 50 -attackers 0.06 -near-misses 3 -duration 2h -late 0.01"
mcp="-seed 2 -events 300 -ips 40 -attackers 0.075 -near-misses 3 -duration 3h -late 0.005"

$gen -format json           $perip -out $out/security-events.jsonl -truth $out/security-events.truth.json
$gen -format alb            $perip -out $out/alb-access.log        -truth $out/alb-access.truth.json
$gen -format mcp-text       $mcp   -out $out/mcp-stderr.log        -truth $out/mcp-stderr.truth.json
$gen -format mcp-cloudwatch $mcp   -out $out/mcp-cloudwatch.jsonl  -truth $out/mcp-cloudwatch.truth.json
