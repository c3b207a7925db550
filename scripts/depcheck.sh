#!/usr/bin/env bash
# Keeps the dependency map of docs/architecture.md true: arrows point one way.
#   cmd/secwatch -> alarms, alerting, ingest, rulefile -> rules -> event (leaf)
#   rulefile, ruletest, config -> yamldiag (leaf but for the YAML parser)
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
check ./internal/match   "$internal"
# The engine: no sources or line formats, no rule-file format (YAML), no
# delivery, state, logging or AWS.
check ./internal/rules   "^$mod/(internal/(ingest|format|rulefile|yamldiag|alerting|alarms|ruletest|state|probe|config|daemon|redisstore)|cmd)(/|\$)|github.com/rs/zerolog|aws-sdk-go|go.yaml.in/yaml|gopkg.in/yaml"
# The rule-file loader: the engine's types and the YAML diagnostics only.
check ./internal/rulefile "^$mod/(internal/(ingest|format|alerting|alarms|ruletest|state|probe|config|daemon|redisstore)|cmd)(/|\$)|github.com/rs/zerolog|aws-sdk-go"
check ./internal/yamldiag "$internal|github.com/rs/zerolog|aws-sdk-go"
check ./internal/ingest  "^$mod/(internal/(alerting|alarms|ruletest)|cmd)"
# The log formats (line -> event): event and redact only; no source, no
# I/O beyond the line they are handed, no AWS SDK, no logging.
check ./internal/format  "^$mod/(cmd|internal/(ingest|daemon|alerting|alarms|config|rules|ruletest|redisstore|state|probe|loggen))(/|\$)|github.com/rs/zerolog|aws-sdk-go"
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
# The engine is pure: what it computes depends only on the rules and events
# it is handed, so replay equals live. go list -deps gives every package it
# is built from; each of those outside the standard library (the engine,
# event, redact) must not itself import I/O, the file system, the network or
# logging. (The standard library's own packages are not listed: fmt imports
# os to print, which the engine never asks it to.) bufio and io count as
# I/O: the engine is handed events, never a stream.
engine_io='os|os/.*|io|io/.*|bufio|path/filepath|syscall|net|net/http|net/http/.*|net/rpc|net/smtp|net/mail|net/textproto|log|log/.*|crypto/rand|math/rand|math/rand/v2|runtime/pprof'
bad=$(go list -deps -f '{{if not .Standard}}{{$p := .ImportPath}}{{range .Imports}}{{$p}} imports {{.}}{{"\n"}}{{end}}{{end}}' ./internal/rules | grep -E " imports ($engine_io)\$" || true)
if [ -n "$bad" ]; then
	echo "depcheck: the engine (internal/rules and what it imports) must not do I/O, log or draw randomness:"
	echo "$bad" | sed 's/^/  /'
	fail=1
fi
# Nor read the clock. The time package itself is needed (time.Time and
# time.Duration are the engine's values), so no import rule can express
# this: a grep of the same packages' non-test sources for the calls that
# read the clock or wait does.
engine_files=$(go list -deps -f '{{if not .Standard}}{{range .GoFiles}}{{$.Dir}}/{{.}} {{end}}{{end}}' ./internal/rules)
# shellcheck disable=SC2086 # one word per file
if grep -n -E '\btime\.(Now|Since|Until|Sleep|After|AfterFunc|Tick|NewTimer|NewTicker)\(' $engine_files; then
	echo "depcheck: the engine (internal/rules and what it imports) must not read the clock or wait"
	fail=1
fi
# sigma converts Sigma rules to native rule files; the rules loader calls it,
# so it depends on nothing of secwatch's.
check ./internal/sigma   "^$mod/(internal/(ingest|alerting|alarms|daemon|config|rules|ruletest|state|probe|redisstore)|cmd)|github.com/rs/zerolog|aws-sdk-go"
[ $fail = 0 ] && echo "depcheck: ok"
exit $fail
