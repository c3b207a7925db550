#!/bin/sh
# make bench-peers: secwatch next to fail2ban and crowdsec on the make bench
# corpus (1,000,000 SecurityEvent JSON lines, 50,000 client IPs), each
# running the benchmark's headline rule (more than 10 authentication
# failures per client IP in 5 minutes, cooldown 15 minutes) as its own
# configuration says it (bench/peers/). Every program is timed with
# bin/measure right after a run of the encoding/json decode loop over the
# same file, so that each ratio compares two runs taken moments apart on a
# shared machine. Prints one table; exits non-zero only when a program could
# not run.
#
# Installs fail2ban and crowdsec from Debian when missing. crowdsec's
# post-install registers with the central API and fails offline; as its
# README.Debian says, a comment line in online_api_credentials.yaml skips
# that, then dpkg --configure -a finishes the installation. The hub ships
# offline under /usr/share/crowdsec/hub.
#
# Environment: BENCH_EVENTS, BENCH_IPS, SECWATCH_BENCH_CACHE as bench/run.sh;
# PEERS (default "secwatch fail2ban crowdsec").
set -eu
cd "$(dirname "$0")/../.."

events=${BENCH_EVENTS:-1000000}
ips=${BENCH_IPS:-50000}
cache=${SECWATCH_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secwatch-bench}
peers=${PEERS:-secwatch fail2ban crowdsec}

install_peers() {
	need=""
	command -v fail2ban-server >/dev/null 2>&1 || need="$need fail2ban"
	if ! command -v crowdsec >/dev/null 2>&1 || ! dpkg -s crowdsec 2>/dev/null | grep -q '^Status: install ok installed'; then
		need="$need crowdsec"
	fi
	[ -z "$need" ] && return 0
	echo "installing:$need (Debian packages)"
	mkdir -p /etc/crowdsec
	if [ ! -s /etc/crowdsec/online_api_credentials.yaml ]; then
		echo "# no central API: offline benchmark machine (see crowdsec's README.Debian)" > /etc/crowdsec/online_api_credentials.yaml
	fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null || true
	DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null
}
install_peers

mkdir -p bin bench/out/peers
go build -o bin/secwatch ./cmd/secwatch
go build -o bin/measure ./bench/measure
go build -o bin/decodeloop ./bench/decodeloop
go build -o bin/secwatch-loggen ./cmd/secwatch-loggen

key=$(cat $(ls internal/loggen/*.go cmd/secwatch-loggen/main.go | grep -v _test.go) | sha256sum | cut -c1-12)
corpus="$cache/corpus-$events-$ips-$key.jsonl"
truth="$cache/corpus-$events-$ips-$key.truth.json"
if [ ! -s "$corpus" ] || [ ! -s "$truth" ]; then
	mkdir -p "$cache"
	echo "generating $corpus"
	bin/secwatch-loggen -format json -seed 1 -events "$events" -ips "$ips" -out "$corpus.tmp" -truth "$truth.tmp"
	mv "$corpus.tmp" "$corpus"
	mv "$truth.tmp" "$truth"
fi

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(test -z "$(git status --porcelain 2>/dev/null)" || echo ' (with uncommitted changes)')"
echo "machine: $(nproc) CPUs, $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(go version | cut -d' ' -f3), fail2ban $(dpkg-query -W -f '${Version}' fail2ban 2>/dev/null), crowdsec $(dpkg-query -W -f '${Version}' crowdsec 2>/dev/null)"
echo "corpus: $corpus"
echo

out=bench/out/peers
results=$out/results.jsonl
: > "$results"
status=0
decode() {
	bin/measure -- bin/decodeloop "$corpus" > "$out/decode.json" 2>/dev/null
	cat "$out/decode.json"
}
for p in $peers; do
	d=$(decode)
	case $p in
	secwatch)
		if bin/measure -stdout "$out/secwatch-alerts.jsonl" -stderr "$out/secwatch.err" -- \
			bin/secwatch replay --rules bench/rules1.yaml --format json --output json "$corpus" > "$out/secwatch.json"; then
			/usr/bin/python3 bench/peers/detect.py secwatch "$out/secwatch.json" "$out/secwatch-alerts.jsonl" "$truth" "$d" >> "$results"
		else
			echo "secwatch failed: $(tail -3 "$out/secwatch.err")"
			status=1
		fi
		;;
	fail2ban)
		if bin/measure -stdout "$out/fail2ban.out" -stderr "$out/fail2ban.err" -- \
			/usr/bin/python3 bench/peers/fail2ban_replay.py "$corpus" "$truth" > "$out/fail2ban.json"; then
			/usr/bin/python3 bench/peers/detect.py fail2ban "$out/fail2ban.json" "$out/fail2ban.out" "$truth" "$d" >> "$results"
		else
			echo "fail2ban failed: $(tail -3 "$out/fail2ban.err")"
			status=1
		fi
		;;
	crowdsec)
		if bench/peers/crowdsec.sh "$corpus" "$truth" > "$out/crowdsec.out" 2> "$out/crowdsec.err"; then
			/usr/bin/python3 bench/peers/detect.py crowdsec - "$out/crowdsec.out" "$truth" "$d" >> "$results"
		else
			echo "crowdsec failed: $(tail -3 "$out/crowdsec.err")"
			status=1
		fi
		;;
	*)
		echo "unknown peer $p" >&2
		exit 2
		;;
	esac
done
/usr/bin/python3 bench/peers/detect.py table "$results"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
