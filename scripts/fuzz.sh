#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 20s):
#   make fuzz                 # all targets
#   FUZZTIME=2m make fuzz     # longer
#   ./scripts/fuzz.sh ./internal/ingest FuzzJSON    # one package, one target
# Targets are found by name (func FuzzXxx in *_test.go), so new ones —
# including internal/alarms/pattern's — are picked up without editing this
# file. A crasher is written by `go test` to <pkg>/testdata/fuzz/<Target>/;
# check it in: plain `go test` (make test) then replays it as a regression
# test. Exits non-zero if any target fails.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
only_pkg=${1:-}
only_target=${2:-}

fail=0
ran=0
while IFS= read -r file; do
	pkg="./$(dirname "$file")"
	[ -n "$only_pkg" ] && [ "$pkg" != "$only_pkg" ] && continue
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
		[ -n "$only_target" ] && [ "$target" != "$only_target" ] && continue
		echo "== $pkg $target ($FUZZTIME)"
		ran=$((ran + 1))
		if ! $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >"${TMPDIR:-/tmp}/secwatch-fuzz.log" 2>&1; then
			cat "${TMPDIR:-/tmp}/secwatch-fuzz.log"
			echo "FAIL $pkg $target"
			fail=1
		else
			tail -n 3 "${TMPDIR:-/tmp}/secwatch-fuzz.log" | grep -E 'execs|^ok' || true
		fi
	done
done < <(grep -rlE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' internal cmd | sort)

echo "fuzz: $ran targets, $([ $fail = 0 ] && echo all passed || echo FAILURES)"
exit $fail
