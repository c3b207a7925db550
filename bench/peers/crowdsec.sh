#!/bin/sh
# Replays a corpus through crowdsec in time-machine mode (crowdsec -dsn
# file://CORPUS -type secwatch) with the parser and scenario of
# bench/peers/crowdsec, its local API on a loopback port and a SQLite
# database, fully offline (no central API). Prints one JSON object: wall
# and CPU seconds and peak RSS of the crowdsec process (bin/measure), and
# the attacker IPs its alerts name, against the generator's truth.
#
#   bench/peers/crowdsec.sh CORPUS TRUTH [PORT]
set -eu
cd "$(dirname "$0")/../.."
corpus=$(readlink -f "$1")
truth=$(readlink -f "$2")
port=${3:-18081}
work=$(pwd)/bench/out/peers/crowdsec
rm -rf "$work"
mkdir -p "$work/etc/parsers/s00-raw" "$work/etc/parsers/s01-parse" "$work/etc/parsers/s02-enrich" \
	"$work/etc/scenarios" "$work/etc/postoverflows" "$work/etc/notifications" "$work/data" "$work/log"
src=bench/peers/crowdsec
cp "$src/parsers/s00-raw/"*.yaml "$work/etc/parsers/s00-raw/"
cp "$src/parsers/s01-parse/"*.yaml "$work/etc/parsers/s01-parse/"
cp /usr/share/crowdsec/hub/parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml "$work/etc/parsers/s02-enrich/"
cp "$src/scenarios/"*.yaml "$work/etc/scenarios/"
cp "$src/profiles.yaml" "$work/etc/profiles.yaml"
ln -s /etc/crowdsec/patterns "$work/etc/patterns"
echo "simulation: off" > "$work/etc/simulation.yaml"
: > "$work/etc/acquis.yaml"
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" "$src/config.yaml.in" > "$work/config.yaml"
cscli -c "$work/config.yaml" machines add secwatch-bench --auto --force \
	-f "$work/etc/local_api_credentials.yaml" --url "http://127.0.0.1:$port" >/dev/null 2>"$work/log/cscli.err"
bin/measure -stdout "$work/log/stdout" -stderr "$work/log/stderr" -- \
	crowdsec -c "$work/config.yaml" -dsn "file://$corpus" -type secwatch -no-capi > "$work/measure.json"
/usr/bin/python3 - "$work/data/crowdsec.db" "$truth" "$work/measure.json" <<'PY'
import json, sqlite3, sys
db, truth, meas = sys.argv[1:4]
m = json.load(open(meas))
con = sqlite3.connect(db)
rows = con.execute("select source_value from alerts where scenario = 'secwatch/auth-failure-burst'").fetchall()
ips = {r[0] for r in rows}
t = json.load(open(truth))
att, near = set(t["attackers"]), set(t["near_misses"])
print(json.dumps({"program": "crowdsec", "wall_seconds": m["wall_seconds"], "cpu_seconds": m["cpu_seconds"],
    "max_rss_kib": m["max_rss_kib"], "exit_code": m["exit_code"], "alerts": len(rows), "alerted_ips": len(ips),
    "attackers_found": len(ips & att), "attackers": len(att), "near_misses_alerted": len(ips & near),
    "false_positives": len(ips - att), "alerted": sorted(ips)}))
PY
