// Package rules is the rule engine and the compiled rule types it runs:
// sliding-window threshold, distinct, absent and sequence rules over
// events, with their state as a snapshot (docs/rules.md).
//
// It is pure: it reads no files, logs nothing, starts no goroutines and
// never reads the clock (Observe and Advance take the time from the events
// and the caller), so a replay of recorded logs alerts exactly as the
// daemon did live. Rules come from internal/rulefile, which reads and
// validates rule files; the engine depends only on internal/event.
// scripts/depcheck.sh checks this.
package rules
