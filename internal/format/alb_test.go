package format

import (
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// albLine joins fields with spaces, the way the ALB writes an entry.
func albLine(fields ...string) string { return strings.Join(fields, " ") }

const (
	albELB  = "app/mcp-prod/50dc6c495c0c9188"
	albTG   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mcp/73e2d6bc24d8a067"
	albCert = `"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"`
)

// albHTTPS is a complete current entry (30 fields), then the fields we
// expect from it.
var albHTTPS = albLine("https", "2026-01-28T19:15:02.186641Z", albELB, "203.0.113.7:2817", "10.0.1.57:8080",
	"0.086", "0.048", "0.037", "401", "401", "0", "57",
	`"POST https://mcp.example.com:443/mcp/tools/call?x=1 HTTP/1.1"`, `"python-httpx/0.27.0"`,
	"ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", albTG, `"Root=1-58337281-1d84f3d73c47ec4e58577259"`,
	`"mcp.example.com"`, albCert, "1", "2026-01-28T19:15:02.100000Z", `"forward"`, `"-"`, `"-"`,
	`"10.0.1.57:8080"`, `"401"`, `"-"`, `"-"`, "TID_1234abcd5678ef90")

var albHTTPSFields = kv(
	"type", "https", "time", "2026-01-28T19:15:02.186641Z", "elb", albELB,
	"client_ip", "203.0.113.7", "client_port", "2817", "target_ip", "10.0.1.57", "target_port", "8080",
	"request_processing_time", "0.086", "target_processing_time", "0.048", "response_processing_time", "0.037",
	"elb_status_code", "401", "target_status_code", "401", "received_bytes", "0", "sent_bytes", "57",
	"request_method", "POST", "request_url", "https://mcp.example.com:443/mcp/tools/call?x=1", "request_protocol", "HTTP/1.1",
	"request_scheme", "https", "request_path", "/mcp/tools/call",
	"user_agent", "python-httpx/0.27.0", "ssl_cipher", "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol", "TLSv1.2",
	"target_group_arn", albTG, "trace_id", "Root=1-58337281-1d84f3d73c47ec4e58577259", "domain_name", "mcp.example.com",
	"chosen_cert_arn", strings.Trim(albCert, `"`), "matched_rule_priority", "1", "request_creation_time", "2026-01-28T19:15:02.100000Z",
	"actions_executed", "forward", "target_port_list", "10.0.1.57:8080", "target_status_code_list", "401",
	"conn_trace_id", "TID_1234abcd5678ef90")

func TestParseALB(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []event.Field
	}{
		{"https, all fields", albHTTPS, albHTTPSFields},
		{"http plaintext: no TLS fields", albLine("http", "2026-01-28T19:15:02.186641Z", albELB, "198.51.100.9:40112", "-",
			"-1", "-1", "-1", "403", "-", "120", "0", `"GET http://mcp.example.com:80/.env HTTP/1.1"`, `"curl/8.5.0"`, "-", "-",
			"-", `"Root=1-5"`, `"-"`, `"-"`, "0", "2026-01-28T19:15:02.180000Z", `"waf"`, `"-"`, `"-"`, `"-"`, `"-"`, `"-"`, `"-"`, "-"),
			kv("type", "http", "time", "2026-01-28T19:15:02.186641Z", "elb", albELB, "client_ip", "198.51.100.9", "client_port", "40112",
				"request_processing_time", "-1", "target_processing_time", "-1", "response_processing_time", "-1",
				"elb_status_code", "403", "received_bytes", "120", "sent_bytes", "0",
				"request_method", "GET", "request_url", "http://mcp.example.com:80/.env", "request_protocol", "HTTP/1.1",
				"request_scheme", "http", "request_path", "/.env", "user_agent", "curl/8.5.0",
				"trace_id", "Root=1-5", "matched_rule_priority", "0", "request_creation_time", "2026-01-28T19:15:02.180000Z",
				"actions_executed", "waf")},
		{"h2, TLSv1.3, redirect", albLine("h2", "2026-01-28T19:15:02Z", albELB, "203.0.113.7:50000", "-",
			"-1", "-1", "-1", "301", "-", "37", "0", `"GET https://mcp.example.com:443/ HTTP/2.0"`, `"Mozilla/5.0 (X11; Linux x86_64)"`,
			"TLS_AES_128_GCM_SHA256", "TLSv1.3", "-", `"Root=1-6"`, `"mcp.example.com"`, albCert, "2", "2026-01-28T19:15:01.999000Z",
			`"redirect"`, `"https://mcp.example.com:443/mcp"`, `"-"`, `"-"`, `"-"`, `"-"`, `"-"`, "TID_2"),
			kv("type", "h2", "time", "2026-01-28T19:15:02Z", "elb", albELB, "client_ip", "203.0.113.7", "client_port", "50000",
				"request_processing_time", "-1", "target_processing_time", "-1", "response_processing_time", "-1",
				"elb_status_code", "301", "received_bytes", "37", "sent_bytes", "0",
				"request_method", "GET", "request_url", "https://mcp.example.com:443/", "request_protocol", "HTTP/2.0",
				"request_scheme", "https", "request_path", "/", "user_agent", "Mozilla/5.0 (X11; Linux x86_64)",
				"ssl_cipher", "TLS_AES_128_GCM_SHA256", "ssl_protocol", "TLSv1.3", "trace_id", "Root=1-6", "domain_name", "mcp.example.com",
				"chosen_cert_arn", strings.Trim(albCert, `"`), "matched_rule_priority", "2", "request_creation_time", "2026-01-28T19:15:01.999000Z",
				"actions_executed", "redirect", "redirect_url", "https://mcp.example.com:443/mcp", "conn_trace_id", "TID_2")},
		{"TLSv1, IPv6 client as the ALB writes it, old 16-field entry", albLine("https", "2026-01-28T19:15:02Z", albELB,
			"2001:db8:85a3::8a2e:370:7334:51234", "10.0.1.57:8080", "0.001", "0.002", "0.000", "200", "200", "10", "20",
			`"GET https://mcp.example.com:443/health HTTP/1.1"`, `"-"`, "ECDHE-RSA-AES128-SHA", "TLSv1"),
			kv("type", "https", "time", "2026-01-28T19:15:02Z", "elb", albELB, "client_ip", "2001:db8:85a3::8a2e:370:7334", "client_port", "51234",
				"target_ip", "10.0.1.57", "target_port", "8080",
				"request_processing_time", "0.001", "target_processing_time", "0.002", "response_processing_time", "0.000",
				"elb_status_code", "200", "target_status_code", "200", "received_bytes", "10", "sent_bytes", "20",
				"request_method", "GET", "request_url", "https://mcp.example.com:443/health", "request_protocol", "HTTP/1.1",
				"request_scheme", "https", "request_path", "/health", "ssl_cipher", "ECDHE-RSA-AES128-SHA", "ssl_protocol", "TLSv1")},
		{"bracketed IPv6 accepted too; fields beyond the documented ones ignored", albLine("https", "2026-01-28T19:15:02Z", albELB,
			"[2001:db8::1]:443", "-", "0", "0", "0", "200", "-", "1", "2", `"GET https://h:443/a HTTP/1.1"`, `"ua"`, "c", "TLSv1.2",
			"-", `"-"`, `"-"`, `"-"`, "-", "-", `"-"`, `"-"`, `"-"`, `"-"`, `"-"`, `"-"`, `"-"`, "-", `"new field"`, "another"),
			kv("type", "https", "time", "2026-01-28T19:15:02Z", "elb", albELB, "client_ip", "2001:db8::1", "client_port", "443",
				"request_processing_time", "0", "target_processing_time", "0", "response_processing_time", "0",
				"elb_status_code", "200", "received_bytes", "1", "sent_bytes", "2",
				"request_method", "GET", "request_url", "https://h:443/a", "request_protocol", "HTTP/1.1",
				"request_scheme", "https", "request_path", "/a", "user_agent", "ua", "ssl_cipher", "c", "ssl_protocol", "TLSv1.2")},
		{"unparseable request as the ALB logs it", albLine("http", "2026-01-28T19:15:02Z", albELB, "198.51.100.9:1", "-",
			"-1", "-1", "-1", "400", "-", "0", "272", `"- http://10.0.1.5:80- -"`, `"-"`, "-", "-"),
			kv("type", "http", "time", "2026-01-28T19:15:02Z", "elb", albELB, "client_ip", "198.51.100.9", "client_port", "1",
				"request_processing_time", "-1", "target_processing_time", "-1", "response_processing_time", "-1",
				"elb_status_code", "400", "received_bytes", "0", "sent_bytes", "272",
				"request_url", "http://10.0.1.5:80", "request_scheme", "http")},
		{"quotes inside quoted fields", albLine("https", "2026-01-28T19:15:02Z", albELB, "203.0.113.7:1", "-", "0", "0", "0", "200", "-", "1", "2",
			`"GET https://h:443/p%20q"r?a HTTP/1.1"`, `"Mozilla \"evil\" 1.0"`, "c", "TLSv1.2"),
			kv("type", "https", "time", "2026-01-28T19:15:02Z", "elb", albELB, "client_ip", "203.0.113.7", "client_port", "1",
				"request_processing_time", "0", "target_processing_time", "0", "response_processing_time", "0",
				"elb_status_code", "200", "received_bytes", "1", "sent_bytes", "2",
				"request_method", "GET", "request_url", `https://h:443/p%20q"r?a`, "request_protocol", "HTTP/1.1",
				"request_scheme", "https", "request_path", `/p%20q"r`, "user_agent", `Mozilla \"evil\" 1.0`,
				"ssl_cipher", "c", "ssl_protocol", "TLSv1.2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, "alb", Options{}), tt.line, time.Time{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := fieldsDiff(ev.Fields, tt.want); d != "" {
				t.Errorf("fields differ:%s", d)
			}
			tm, _ := ev.Get("time")
			if got := event.FormatTime(ev.Time); got != tm {
				t.Errorf("time = %s, want %s", got, tm)
			}
		})
	}
}

func TestParseALBErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"too few fields", albLine("https", "2026-01-28T19:15:02Z", albELB, "1.2.3.4:5"), "too few fields for an alb entry: 4, want at least 13"},
		{"bad time", strings.Replace(albHTTPS, "2026-01-28T19:15:02.186641Z", "yesterday", 1), `invalid time "yesterday"`},
		{"classic elb line", albLine("2015-06-29T18:20:58.072335Z", "MY-ELB", "1.2.3.4:5", "10.0.0.1:80", "0", "0", "0", "200", "200", "0", "0", "0",
			`"GET https://www.example.com/ HTTP/1.1"`, `"ua"`, "c", "TLSv1.2"), `invalid time "MY-ELB"`},
		{"unterminated quote", albLine("https", "2026-01-28T19:15:02Z", albELB, "1.2.3.4:5", "-", "0", "0", "0", "200", "-", "1", "2", `"GET /x`),
			"unterminated quoted field at byte 85"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseLine(mustParser(t, "alb", Options{}), tt.line, ts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSplitURL(t *testing.T) {
	tests := []struct{ url, scheme, path string }{
		{"https://h:443/a/b?q#f", "https", "/a/b"},
		{"http://h:80", "http", ""},
		{"http://h:80?x=/y", "http", ""},
		{"/origin/form?x", "", "/origin/form"},
		{"*", "", ""},
		{"wss://h/ws", "wss", "/ws"},
		{"1http://x/y", "", ""},
	}
	for _, tt := range tests {
		s, p := splitURL(tt.url)
		if s != tt.scheme || p != tt.path {
			t.Errorf("splitURL(%q) = %q, %q, want %q, %q", tt.url, s, p, tt.scheme, tt.path)
		}
	}
}

func BenchmarkParseALB(b *testing.B) {
	p := mustParser(b, "alb", Options{})
	line := []byte(albHTTPS)
	var ev event.Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		if err := p.Parse(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
