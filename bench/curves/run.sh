#!/bin/sh
# make bench-plots: measure the scale curves (bench/curves) and render them
# with gnuplot (installed from Debian when missing) as docs/bench-*.png.
# Environment: CURVES_ROUNDS (default 1), CURVES_EVENTS, CURVES_RULES,
# CURVES_KEYS (comma-separated, see bench/curves/main.go).
set -eu
cd "$(dirname "$0")/../.."
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "installing gnuplot-nox (Debian)"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
fi
mkdir -p bin bench/out/curves
go build -o bin/secwatch ./cmd/secwatch
go build -o bin/secwatch-loggen ./cmd/secwatch-loggen
go build -o bin/decodeloop ./bench/decodeloop
go build -o bin/curves ./bench/curves
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) CPUs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
bin/curves -rounds "${CURVES_ROUNDS:-1}" -out bench/out/curves \
	${CURVES_EVENTS:+-events "$CURVES_EVENTS"} ${CURVES_RULES:+-rules "$CURVES_RULES"} ${CURVES_KEYS:+-keys "$CURVES_KEYS"}
gnuplot -e "dir='bench/out/curves'; docs='docs'" bench/curves/plots.gp
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
ls -l docs/bench-*.png
