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
check ./internal/alerting "^$mod/(internal/(alarms|ingest|ruletest|redisstore)|cmd)"
# The reconciler and audit: rules and the pattern compiler; AWS through
# clients cmd hands it; no config, daemon, state or logging.
check ./internal/alarms  "^$mod/(internal/(alerting|ingest|ruletest|config|daemon|state|redisstore|probe)|cmd)|github.com/rs/zerolog"
# The filter-pattern compiler and evaluator: rules and event (and what rules
# brings) only; no ingest, AWS SDK or logging, so the reconciler and the CLI
# share one meaning.
check ./internal/alarms/pattern "^$mod/(cmd|internal/(alarms|alerting|config|daemon|ingest|loggen|probe|redisstore|ruletest|state|testutil))(/|\$)|github.com/rs/zerolog|aws-sdk-go"
check ./internal/ruletest "^$mod/(internal/(alerting|alarms)|cmd)"
check ./internal/state   "$internal"
check ./internal/config  "^$mod/(internal/(alerting|alarms|daemon|state|ruletest)|cmd)"
# redisstore (the Redis backend) implements alerting's Queue; only daemon uses it.
check ./internal/redisstore  "^$mod/(internal/(alarms|config|daemon|ingest|ruletest|probe)|cmd)"
check ./internal/daemon  "^$mod/(internal/(alarms|ruletest)|cmd)"
check ./internal/probe   "^$mod/(internal/(ingest|rules|alerting|alarms|ruletest|state|config|daemon)|cmd)|github.com/rs/zerolog|aws-sdk-go"
# deploy reads the code as source (the IAM check) and imports none of it.
check ./deploy           "^$mod/(internal|cmd)/|aws-sdk-go"
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
