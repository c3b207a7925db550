#!/usr/bin/env bash
# Checks that the live daemon and replay give the same alerts for the same
# input, on the demo's drifting sources (make run: the MCP log's generated
# time runs 30x and the ALB log's 10x faster than the clock, after bundled
# January backlogs). Runs the demo's generators and `secwatch run` for
# SECONDS (default 60), stops the generators, lets the daemon catch up,
# stops it, replays both files and compares the alert documents by
# alert_id. Uses .cache/demo and .cache/state like `make run` (run `make
# build` first). SW=path/to/secwatch checks another build.
#
#	./scripts/demo-vs-replay.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
sw=${SW:-bin/secwatch}
secs=${1:-60}
out=.cache/demo-vs-replay
rm -rf "$out"
mkdir -p "$out"
. scripts/demo-traffic.sh
SECWATCH_LISTEN=127.0.0.1:0 "$sw" run --config examples/secwatch.yaml >"$out/live.json" 2>"$out/live.log" &
d=$!
sleep "$secs"
kill $demo_pids
wait $demo_pids 2>/dev/null || true
sleep 5 # the daemon catches up with the last lines
kill -TERM "$d"
wait "$d" || true
"$sw" replay --rules rules/mcp.yaml --format mcp --source mcp-app --output json "$demo/mcp.log" >"$out/replay.json" 2>/dev/null
"$sw" replay --rules rules/alb.yaml --format alb --source alb --output json "$demo/alb.log" >>"$out/replay.json" 2>/dev/null
python3 - "$out/live.json" "$out/replay.json" <<'PY'
import json, sys
def load(p):
    docs = {}
    for line in open(p):
        if line.startswith('{'):
            d = json.loads(line)
            docs[d['alert_id']] = d
    return docs
live, replay = load(sys.argv[1]), load(sys.argv[2])
only_live = [d for i, d in live.items() if i not in replay]
only_replay = [d for i, d in replay.items() if i not in live]
differ = [i for i in live if i in replay and live[i] != replay[i]]
print(f"live {len(live)} alerts, replay {len(replay)}: only live {len(only_live)}, only replay {len(only_replay)}, different documents {len(differ)}")
for d in (only_live + only_replay)[:10]:
    print(f"  {'live' if d in only_live else 'replay'} only: {d['rule']} {d['time']} count {d.get('count')} {d.get('group')}")
sys.exit(1 if only_live or only_replay or differ else 0)
PY
