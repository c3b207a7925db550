package redact

import "testing"

// benchValues are the values of one sample of each kind the bench corpus's
// alerts carry (bench/rules10.yaml over secwatch-loggen -format json), in
// about the proportion they occur: most samples are authentication
// failures quoting a key hash, whose "key" sends them through the
// key-shaped patterns without matching any.
var benchValues = []string{
	// authentication_failure, invalid_key (most samples)
	"/root/.cache/secwatch-bench/corpus-1000000-50000-6d95962bd938.jsonl", "1933", "replay",
	"2026-01-28T19:03:15.151107Z", "39.92.144.100", "39.92.144.100", "invalid_key", "POST",
	"/mcp/tools/call", "2026-01-28T19:03:15.150301", "authentication_failure",
	"Invalid API key (hash: e2b52c47)", "90a52513-9e42-427c-b445-5fe07bfa25c7", "medium",
	"2026-01-28T19:03:15.151107",
	"Invalid API key (hash: e0eb0835)", "Invalid API key (hash: 20ab32a7)", "Invalid API key (hash: f0cb1144)",
	// missing_header, invalid_format
	"No Authorization header provided", "missing_header",
	"Authorization header must use Bearer scheme", "invalid_format",
	// request_sanitization_failure, loop_detected
	"Dangerous header not allowed: x-forwarded-host",
	"Request sanitization failed: Dangerous header not allowed: x-forwarded-host",
	"request_sanitization_failure", "high",
	"Loop detected: Tool 'get_tagging_policy' called 4 times with identical parameters (max: 3)",
	"ac5f211499be48f3", "fd400642-b8f8-4d61-be63-938c40f6a45a", "loop_detected", "get_tagging_policy",
}

// BenchmarkText redacts the values of bench alert samples (one op: every
// value of benchValues once).
func BenchmarkText(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range benchValues {
			_ = Text(v)
		}
	}
}
