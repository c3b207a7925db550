package pattern

import "testing"

// The cost of one pattern on one line, for `plan --verify` over large files.
func BenchmarkMatch(b *testing.B) {
	line := []byte(`{"timestamp": "2026-01-28T19:15:02Z", "event_type": "authentication_failure", "severity": "medium", "message": "Invalid API key (hash: 3f2b9c1e)", "client_ip": "203.0.113.7", "details": {"failure_type": "invalid_key", "method": "POST", "path": "/mcp/tools/call"}, "session_id": "s-1"}`)
	for _, bc := range []struct{ name, pattern string }{
		{"json", `{ $.event_type = "authentication_failure" && ($.details.method NOT EXISTS || $.details.method != "OPTIONS") && $.details.path = "/mcp*" }`},
		{"text", `"authentication_failure" -"OPTIONS"`},
		{"regex", `%hash: [0-9a-f]{8}%`},
	} {
		p := MustParse(bc.pattern)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if !p.Match(line) {
					b.Fatal("no match")
				}
			}
		})
	}
}
