#!/bin/sh
# make bench: builds secwatch, the decode-loop baseline, bench/measure and
# the log generator; generates (once, cached) a 1,000,000-event JSON corpus
# with 50,000 client IPs, 2,500 attackers and 250 near misses; then runs
# the line scan, the decode loop and secwatch replay (1 rule, 10 rules)
# interleaved, and prints the table. Exits non-zero when secwatch's
# detection is not exact; never because of timing.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_EVENTS (1000000),
# BENCH_IPS (50000), SECWATCH_BENCH_CACHE (default ~/.cache/secwatch-bench).
set -eu
cd "$(dirname "$0")/.."

rounds=${BENCH_ROUNDS:-3}
events=${BENCH_EVENTS:-1000000}
ips=${BENCH_IPS:-50000}
cache=${SECWATCH_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secwatch-bench}

mkdir -p bin "$cache"
go build -o bin/secwatch ./cmd/secwatch
go build -o bin/decodeloop ./bench/decodeloop
go build -o bin/measure ./bench/measure
go build -o bin/secwatch-loggen ./cmd/secwatch-loggen
go build -o bin/bench-harness ./bench/harness

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

exec bin/bench-harness -corpus "$corpus" -truth "$truth" -rounds "$rounds" \
	-measure bin/measure -decodeloop bin/decodeloop -secwatch bin/secwatch \
	-rules1 bench/rules1.yaml -rules10 bench/rules10.yaml
