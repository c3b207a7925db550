#!/usr/bin/env bash
# Keeps the dependency map of STYLE.md true: arrows point one way.
#   cmd/secwatch -> alarms, alerting, ingest -> rules -> event (leaf)
# Each line below is "package  forbidden-import-regex".
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
check() {
	local pkg=$1 forbidden=$2
	[ -d "${pkg#./}" ] || return 0
	local bad
	bad=$(go list -deps "$pkg" | grep -E "$forbidden" | grep -v "^$mod/${pkg#./}\$" || true)
	if [ -n "$bad" ]; then
		echo "depcheck: $pkg must not depend on:" $bad
		fail=1
	fi
}
internal="^$mod/(internal|cmd)/"
check ./internal/event   "$internal|github.com/rs/zerolog|aws-sdk-go"
check ./internal/redact  "$internal"
check ./internal/rules   "^$mod/(internal/(ingest|alerting|alarms|ruletest|state|probe)|cmd)|github.com/rs/zerolog|aws-sdk-go"
check ./internal/ingest  "^$mod/(internal/(alerting|alarms|ruletest)|cmd)"
check ./internal/alerting "^$mod/(internal/(alarms|ingest|ruletest)|cmd)"
check ./internal/alarms  "^$mod/(internal/(alerting|ingest|ruletest)|cmd)"
check ./internal/ruletest "^$mod/(internal/(alerting|alarms)|cmd)"
check ./internal/state   "$internal"
check ./internal/config  "^$mod/(internal/(alerting|alarms|daemon|state|ruletest)|cmd)"
check ./internal/daemon  "^$mod/(internal/(alarms|ruletest)|cmd)"
# rules is pure: no goroutines or clocks are checked by review; no logging
# or I/O packages beyond what it is handed.
if grep -rn --include='*.go' -E '"(os|net/http|github.com/rs/zerolog)"' internal/rules | grep -v '_test.go' | grep -v 'load' ; then
	echo "depcheck: internal/rules (outside the loader) must not do I/O or log"
	fail=1
fi
if grep -rn --include='*.go' -E 'time\.Now\(' internal/rules internal/event | grep -v '_test.go'; then
	echo "depcheck: internal/rules and internal/event must not read the clock"
	fail=1
fi
[ $fail = 0 ] && echo "depcheck: ok"
exit $fail
