# Sourced by scripts/demo.sh and scripts/demo-vs-replay.sh: the demo's
# input. Copies the bundled MCP server and ALB logs into .cache/demo and
# starts generators that keep appending benign and attack lines to them;
# generated time runs 10x (ALB) and 30x (MCP) faster than the clock.
# Sets demo (the directory) and demo_pids (the generators' pids).
demo=.cache/demo
rm -rf .cache/state "$demo"
mkdir -p "$demo"
cp testdata/logs/mcp-stderr.log "$demo/mcp.log"
cp testdata/logs/alb-access.log "$demo/alb.log"
bin/secwatch-loggen -follow -speed 10 -format alb -out "$demo/alb.log" -duration 30m -events 3000 -ips 150 -attackers 0.1 -seed 7 &
demo_pids="$!"
bin/secwatch-loggen -follow -speed 30 -format mcp-text -out "$demo/mcp.log" -duration 4h -events 20000 -ips 100 -attackers 0.06 -near-misses 2 -seed 7 &
demo_pids="$demo_pids $!"
