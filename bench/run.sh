#!/bin/sh
# make bench: the replay throughput benchmark, then the live latency
# benchmark. make bench-latency (bench/run.sh latency) runs only the
# latter, bench/run.sh replay only the former.
#
# replay: builds secwatch, the decode-loop baseline, bench/measure and the
# log generator; generates (once, cached) a 1,000,000-event JSON corpus
# with 50,000 client IPs, 2,500 attackers and 250 near misses; then runs
# the line scan, the decode loop and secwatch replay (1 rule, 10 rules,
# the rule-heavy pack bench/rulesheavy.yaml)
# interleaved, and prints the table. Exits non-zero when secwatch's
# detection is not exact; never because of timing.
#
# latency: runs `secwatch run` on a file source while bench/latency
# appends background lines at 10,000 per second and marker lines, and
# prints the append-to-alert latency (p50, p90, p99, max) per poll
# interval and whether the daemon kept up. Exits non-zero when a marker
# gets no alert or two; never because of timing.
#
# soak (make bench-soak): secwatch run on a file source while bench/latency
# appends 50,000 lines per second for 10 minutes; the daemon's RSS is sampled
# every 10 s and the append-to-alert latency reported (p50, p99, max).
#
# Environment: BENCH_ROUNDS (default 3), BENCH_EVENTS (1000000),
# BENCH_IPS (50000), SECWATCH_BENCH_CACHE (default ~/.cache/secwatch-bench);
# BENCH_LATENCY_POLLS (10ms,50ms,250ms), BENCH_LATENCY_SECONDS (30),
# BENCH_LATENCY_EPS (10000); BENCH_SOAK_SECONDS (600), BENCH_SOAK_EPS (50000),
# BENCH_SOAK_POLL (50ms), BENCH_SOAK_IPS (50000), BENCH_SOAK_LOG_DIR (/dev/shm
# when it has room; "" puts the log beside the state, on the same disk).
set -eu
cd "$(dirname "$0")/.."

what=${1:-all}
case $what in
all | replay | latency | soak) ;;
*)
	echo "usage: bench/run.sh [all|replay|latency|soak]" >&2
	exit 2
	;;
esac

rounds=${BENCH_ROUNDS:-3}
events=${BENCH_EVENTS:-1000000}
ips=${BENCH_IPS:-50000}
cache=${SECWATCH_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secwatch-bench}
polls=${BENCH_LATENCY_POLLS:-10ms,50ms,250ms}
seconds=${BENCH_LATENCY_SECONDS:-30}
eps=${BENCH_LATENCY_EPS:-10000}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }

mkdir -p bin
go build -o bin/secwatch ./cmd/secwatch
go build -o bin/measure ./bench/measure
go build -o bin/decodeloop ./bench/decodeloop
go build -o bin/secwatch-loggen ./cmd/secwatch-loggen
go build -o bin/bench-harness ./bench/harness
go build -o bin/bench-latency ./bench/latency

# What docs/benchmarks.md asks to record with every figure.
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(test -z "$(git status --porcelain 2>/dev/null)" || echo ' (with uncommitted changes)')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo 2>/dev/null), $(uname -sr)"
echo "go: $(go version)"
echo "load average at start: $(loadavg)"
echo

status=0
if [ "$what" = soak ]; then
	echo "== live soak (secwatch run) =="
	# The traffic's log goes to a tmpfs when one has room for it (about
	# 320 bytes a line): on the state directory's file system its
	# writeback holds up the outbox's fsyncs (bench/README.md).
	soak_s=${BENCH_SOAK_SECONDS:-600}
	soak_eps=${BENCH_SOAK_EPS:-50000}
	logdir=${BENCH_SOAK_LOG_DIR-/dev/shm}
	if [ -n "$logdir" ]; then
		need_kb=$((soak_s * soak_eps * 320 / 1024 + 1048576))
		free_kb=$(df -Pk "$logdir" 2>/dev/null | awk 'NR == 2 { print $4 }')
		if [ -z "$free_kb" ] || [ "$free_kb" -lt "$need_kb" ]; then
			echo "soak: $logdir has no room for the log (${need_kb} KiB); it goes beside the state" >&2
			logdir=
		fi
	fi
	echo "soak: the log in ${logdir:-the work directory, beside the state}"
	bin/bench-latency -secwatch bin/secwatch -rules bench/rules10.yaml \
		-duration "${soak_s}s" -eps "$soak_eps" -log-dir "$logdir" \
		-poll "${BENCH_SOAK_POLL:-50ms}" -ips "${BENCH_SOAK_IPS:-50000}" -rss-every 10s -drain 60s || status=1
	echo "load average after soak: $(loadavg)"
	exit $status
fi
if [ "$what" != latency ]; then
	mkdir -p "$cache"
	# The corpus is cached under a name that changes with the generator's
	# source, so a generator change makes a new corpus.
	key=$(cat $(ls internal/loggen/*.go cmd/secwatch-loggen/main.go | grep -v _test.go) | sha256sum | cut -c1-12)
	corpus="$cache/corpus-$events-$ips-$key.jsonl"
	truth="$cache/corpus-$events-$ips-$key.truth.json"
	if [ ! -s "$corpus" ] || [ ! -s "$truth" ]; then
		rm -f "$cache"/corpus-*.jsonl "$cache"/corpus-*.truth.json
		echo "generating $corpus"
		bin/secwatch-loggen -format json -seed 1 -events "$events" -ips "$ips" \
			-out "$corpus.tmp" -truth "$truth.tmp"
		mv "$corpus.tmp" "$corpus"
		mv "$truth.tmp" "$truth"
	fi
	echo "== replay throughput =="
	bin/bench-harness -corpus "$corpus" -truth "$truth" -rounds "$rounds" \
		-measure bin/measure -decodeloop bin/decodeloop -secwatch bin/secwatch \
		-rules1 bench/rules1.yaml -rules10 bench/rules10.yaml -rulesheavy bench/rulesheavy.yaml || status=1
	echo "load average after replay: $(loadavg)"
	echo
fi

if [ "$what" != replay ]; then
	echo "== live latency (secwatch run) =="
	bin/bench-latency -secwatch bin/secwatch -rules bench/rules10.yaml \
		-duration "${seconds}s" -eps "$eps" -poll "$polls" || status=1
	echo "load average after latency: $(loadavg)"
fi
exit $status
