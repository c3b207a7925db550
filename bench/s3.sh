#!/bin/sh
# bench/s3.sh: lines per second through the S3 source (objects listed and
# read from the kumo emulator's S3 over loopback HTTP, gunzip, the alb
# parser, rules/alb.yaml) against secwatch replay's path (the same lines
# from a plain local file), BenchmarkS3Throughput in integration/. The two
# run one after the other in each of BENCH_ROUNDS rounds (default 3), so
# they alternate; each iteration reads 100 objects of 1,000 lines. Prints
# the date, commit and load average to copy with the figures.
set -eu
cd "$(dirname "$0")/.."
rounds=${BENCH_ROUNDS:-3}
mkdir -p bin
(cd integration && go test -c -o ../bin/integration.test .)
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "cpus: $(nproc)"
echo "load average: $(loadavg)"
i=1
while [ "$i" -le "$rounds" ]; do
	echo "round $i"
	(cd integration && ../bin/integration.test -test.run '^$' -test.bench 'BenchmarkS3Throughput' -test.benchtime 3x) |
		grep '^BenchmarkS3Throughput'
	echo "load average: $(loadavg)"
	i=$((i + 1))
done
