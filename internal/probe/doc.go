// Package probe checks a protected HTTPS service from the outside, the way a
// client sees it: TLS and no plaintext (requirements 18), API key
// authentication and RFC 6750 challenges (19), CORS (20) and OAuth protected
// resource metadata (24.5); docs/probes.md describes every check.
//
// Run executes the selected checks against one Target and returns one Result
// per check; Result.Event turns it into the event the rule engine consumes
// (event_type "probe"), and Result.Line into a line of the one-off report.
// The API key is sent only over https to the target's own host and never
// appears in a Result (messages are scrubbed; Secret prints "[REDACTED]").
//
// It sits beside ingest in the dependency map: it imports internal/event and
// internal/redact only; the daemon and cmd import it.
package probe
