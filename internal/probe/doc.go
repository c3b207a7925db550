// Package probe checks a protected HTTPS service from the outside, the way a
// client sees it: requirements 18 (TLS, no plaintext), 19 (API key
// authentication, RFC 6750 challenges), 20 (CORS) and 24.5 (OAuth protected
// resource metadata) of the production security requirements (design
// section 10, docs/probes.md).
//
// Run executes the selected checks against one Target and returns one Result
// per check; Result.Event turns it into the event the rule engine consumes
// (event_type "probe"), and Result.Line into a line of the one-off report.
//
// The probe's HTTP client verifies certificates (system roots, or the
// Target's RootCAs), follows redirects only to the same https host, has a
// timeout on every request, and sends the API key only over https to the
// target's own host. The key never appears in a Result: every message is
// scrubbed of it before it is returned, and the Secret type prints as
// "[REDACTED]".
//
// It sits beside ingest in the dependency map: it imports internal/event and
// internal/redact only; the daemon and cmd import it.
package probe
