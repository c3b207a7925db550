package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/testutil"
)

// valueCases are Value's cases (TestValue); TestTextPrefilterExact reuses them.
var valueCases = []struct{ key, in, want string }{
	{"authorization", "Bearer abc.def", Mask},
	{"details.Authorization", "x", Mask},
	{"api_key", "k-123", Mask},
	{"X-Api-Key", "k-123", Mask},
	{"access_token", "t", Mask},
	{"password", "hunter2", Mask},
	{"client_secret", "s", Mask},
	{"cookie", "session=1", Mask},
	{"key_hash", "3f2b9c1e", "3f2b9c1e"}, // an 8-hex hash prefix identifies, it does not reveal
	{"message", "Invalid API key (hash: 3f2b9c1e)", "Invalid API key (hash: 3f2b9c1e)"},
	{"message", "header Authorization: Bearer eyJhbGciOi.x.y sent", "header Authorization: " + Mask + " " + Mask + " sent"},
	{"message", "got bearer sk-live-123 from client", "got bearer " + Mask + " from client"},
	{"request_url", "https://h/mcp?api_key=sk123&x=1", "https://h/mcp?api_key=" + Mask + "&x=1"},
	{"detail", `{'token': 'abc123', 'tool': 'x'}`, `{'token': '` + Mask + `', 'tool': 'x'}`},
	{"origin", "https://evil.example", "https://evil.example"},
	// Presigned URLs, AWS key ids, URL passwords, session ids, OAuth codes.
	{"request_url", "/b/o?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
		"/b/o?X-Amz-Credential=" + Mask + "&X-Amz-Signature=" + Mask},
	{"message", "key AKIAIOSFODNN7EXAMPLE denied, ASIAY34FZKBOKMUTVV7A too", "key " + Mask + " denied, " + Mask + " too"},
	{"aws_access_key_id", "AKIAIOSFODNN7EXAMPLE", Mask},
	{"AccessKeyId", "AKIAIOSFODNN7EXAMPLE", Mask},
	{"message", "aws_access_key_id=abc123XYZ", "aws_access_key_id=" + Mask},
	{"dsn", "postgres://app:s3cr%2Ft@db:5432/x", "postgres://app:" + Mask + "@db:5432/x"},
	{"dsn", "redis://:pw@cache:6379/0", "redis://:" + Mask + "@cache:6379/0"},
	{"request_url", "https://h/app?session_id=9f86d08&page=2", "https://h/app?session_id=" + Mask + "&page=2"},
	{"request_url", "/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "/cb?code=" + Mask + "&state=xyz"},
	{"request_url", "/f.zip?expires=1&signature=abcDEF123", "/f.zip?expires=1&signature=" + Mask},
	{"message", "exit code=2 (no query)", "exit code=2 (no query)"}, // code= only as a query parameter
	{"request_url", "https://evil.example:8443/x", "https://evil.example:8443/x"},
	{"empty", "", ""},
}

func TestValue(t *testing.T) {
	for _, tt := range valueCases {
		if got := Value(tt.key, tt.in); got != tt.want {
			t.Errorf("Value(%q, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
		}
	}
}

// TestTextIdempotent: redacting redacted text changes nothing, so an alert
// rendered from redacted state (a checkpoint) equals the alert rendered from
// the original events.
func TestTextIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 1))
	for range 5000 {
		f := testutil.NewSecretField(r)
		once := Value(f.Key, f.Value)
		if twice := Value(f.Key, once); twice != once {
			t.Fatalf("Value(%q, %q) = %q, but Value of that = %q", f.Key, f.Value, once, twice)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"a\r\nSubject: injected", 0, "a Subject: injected"},
		{"\x1b[31mred\x1b[0m text", 0, "red text"},
		{"\x1b]0;title\x07after", 0, "after"},
		{"evil\u202egnp.exe", 0, "evilgnp.exe"}, // RTL override removed
		{"zero\u200bwidth", 0, "zerowidth"},
		{"nul\x00byte\x7f", 0, "nulbyte"},
		{"c1\u0085\u009bcontrol", 0, "c1 control"},
		{"bad\xffutf8", 0, "bad\uFFFDutf8"},
		{"  spaces   inside  ", 0, "spaces inside"},
		{"ééééé", 7, "éé…"},
		{"abcdef", 5, "ab…"},
	}
	for _, tt := range tests {
		got := Sanitize(tt.in, tt.max)
		if got != tt.want {
			t.Errorf("Sanitize(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if !utf8.ValidString(got) || (tt.max > 0 && len(got) > tt.max) {
			t.Errorf("Sanitize(%q, %d) = %q: invalid UTF-8 or over the limit", tt.in, tt.max, got)
		}
	}
}

func TestASCII(t *testing.T) {
	in := "[HIGH] Burst — from \u202eorigin\r\n" + strings.Repeat("x", 200)
	got := ASCII(in, 100)
	if len(got) > 100 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(got, "[HIGH] Burst ? from origin x") {
		t.Errorf("ASCII = %q", got)
	}
	for _, r := range got {
		if r < 0x20 || r > 0x7e {
			t.Fatalf("ASCII left %q in %q", r, got)
		}
	}
}

// textCases are Text's cases (TestTextChallengesAndLoggedKeys);
// TestTextPrefilterExact reuses them.
var textCases = []struct{ in, want string }{
	// Auth-params of a challenge are not credentials.
	{`WWW-Authenticate: Basic realm="mcp"`, `WWW-Authenticate: Basic realm="mcp"`},
	{`Bearer realm="mcp", error="invalid_token"`, `Bearer realm="mcp", error="invalid_token"`},
	{`Bearer error=invalid_token`, `Bearer error=invalid_token`},
	{`got "Basic realm=\"mcp\""`, `got "Basic realm=\"mcp\""`}, // quoted for display
	// Credentials, padding included, are.
	{`Basic YWxhZGRpbjpvcGVu==`, `Basic ` + Mask},
	{`Basic YQ== sent`, `Basic ` + Mask + ` sent`},
	{`got Bearer abc= from x`, `got Bearer ` + Mask + ` from x`},
	// Keys a server writes in free text.
	{"Invalid API key sk-live-RECOGNISABLE-0123", "Invalid API key " + Mask},
	{"rejected rk_test_51Habc9xyz for tenant 4", "rejected " + Mask + " for tenant 4"},
	{"Invalid API key q9XvT2mLpa (expired)", "Invalid API key " + Mask + " (expired)"},
	{"Invalid API key (hash: 9c1d4f2a)", "Invalid API key (hash: 9c1d4f2a)"},
	{"Invalid API key abcdefghijkl", "Invalid API key " + Mask},
	{"unknown token: qwertyuiop, closing", "unknown token: " + Mask + ", closing"},
	{"request with a wrong key answered 401", "request with a wrong key answered 401"},
	{"api key rotation scheduled", "api key rotation scheduled"},
	{"token refreshed for 3 sessions", "token refreshed for 3 sessions"},
}

func TestTextChallengesAndLoggedKeys(t *testing.T) {
	for _, c := range textCases {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestKey(t *testing.T) {
	for _, c := range []struct{ s, key, want string }{
		{"pass: as s", "s", "pass: as " + Mask},
		{"Bearer ab, realm", "ab", "Bearer " + Mask + ", realm"},
		{"absent abc-d abc", "abc", "absent abc-d " + Mask},
		{"x-sk-live-0123456789-y", "sk-live-0123456789", "x-" + Mask + "-y"},
		{"no key here", "", "no key here"},
		{"untouched", "zz", "untouched"},
	} {
		if got := Key(c.s, c.key); got != c.want {
			t.Errorf("Key(%q, %q) = %q, want %q", c.s, c.key, got, c.want)
		}
	}
}

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://user:pw@host/mcp", "https://" + Mask + "@host/mcp"},
		{"https://KEY@host/mcp", "https://" + Mask + "@host/mcp"},
		{"https://u:a/b?c#d@host/", "https://" + Mask + "@host/"},
		{"user:pw@host", Mask + "@host"},
		{"https://host/mcp?x=1", "https://host/mcp?x=1"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
