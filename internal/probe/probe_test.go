package probe_test

import (
	"context"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/probe"
	"github.com/secwatch/secwatch/internal/probe/probetest"
)

func target(s *probetest.Server, oauth bool) probe.Target {
	return probe.Target{
		Name: "test", URL: s.URL, PlaintextURL: s.PlaintextURL, RootCAs: s.RootCAs,
		AllowedOrigin: probetest.AllowedOrigin, APIKey: probetest.Key,
		OAuth: oauth, Timeout: 5 * time.Second,
	}
}

// outcome summarises results as check → "status:codes", followed by
// " untested:codes" when something was not exercised.
func outcome(rs []probe.Result) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		m[r.Check] = r.Status().String() + ":" + r.Codes()
		if u := r.UntestedCodes(); u != "" {
			m[r.Check] += " untested:" + u
		}
	}
	return m
}

func allPass() map[string]string {
	return map[string]string{"tls": "pass:", "plaintext": "pass:", "auth": "pass:", "cors": "pass:", "oauth_metadata": "pass:"}
}

func with(base map[string]string, kv ...string) map[string]string {
	m := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func compare(t *testing.T, rs []probe.Result, want map[string]string) {
	t.Helper()
	got := outcome(rs)
	for _, c := range probe.Checks {
		if got[c] != want[c] {
			t.Errorf("%s: got %q, want %q", c, got[c], want[c])
		}
	}
	if t.Failed() {
		for _, r := range rs {
			t.Log(r.Line())
		}
	}
}

// TestDefects runs every check against a correctly configured service and
// against services with one defect each: the defect is found by the right
// check, and by that check only (a service whose certificate does not
// verify cannot be tested further: the HTTP checks say so and are
// skipped).
func TestDefects(t *testing.T) {
	cases := []struct {
		defect probetest.Defect
		want   map[string]string
	}{
		{probetest.None, allPass()},
		{probetest.LegacyTLS, with(allPass(), "tls", "fail:legacy_tls_accepted")},
		{probetest.ExpiredCert, with(allPass(), "tls", "fail:cert_expired", "auth", "skip:", "cors", "skip:", "oauth_metadata", "skip:")},
		{probetest.OtherHostCert, with(allPass(), "tls", "fail:cert_wrong_host", "auth", "skip:", "cors", "skip:", "oauth_metadata", "skip:")},
		{probetest.PlaintextServed, with(allPass(), "plaintext", "fail:plaintext_served")},
		{probetest.NoWWWAuth, with(allPass(), "auth", "fail:no_credentials_www_authenticate_missing,wrong_key_www_authenticate_missing")},
		{probetest.WildcardCORS, with(allPass(), "cors", "fail:wildcard_origin")},
		{probetest.EchoAnyOrigin, with(allPass(), "cors", "fail:disallowed_origin_allowed")},
		{probetest.ExtraMethods, with(allPass(), "cors", "fail:extra_methods")},
		{probetest.NoMetadata, with(allPass(), "oauth_metadata", "fail:metadata_missing")},
		// Misconfigurations an earlier probe passed.
		{probetest.LegacyTLSRSA, with(allPass(), "tls", "fail:legacy_tls_accepted")},
		{probetest.LegacyOtherAlert, allPass()},
		{probetest.LegacyUntestable, with(allPass(), "tls", "untested: untested:legacy_tls_untested")},
		{probetest.PreflightNot2xx, with(allPass(), "cors", "fail:allowed_origin_not_echoed")},
		{probetest.NullOrigin, with(allPass(), "cors", "fail:disallowed_origin_allowed")},
		{probetest.PlaintextMCP, with(allPass(), "plaintext", "fail:plaintext_auth_served")},
		{probetest.LenientSuffix, with(allPass(), "cors", "fail:disallowed_origin_allowed")},
		{probetest.LenientPrefix, with(allPass(), "cors", "fail:disallowed_origin_allowed")},
		{probetest.SchemeDowngrade, with(allPass(), "cors", "fail:disallowed_origin_allowed")},
	}
	for _, c := range cases {
		name := string(c.defect)
		if name == "" {
			name = "correct"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := probetest.Start(t, c.defect)
			compare(t, probe.Run(context.Background(), target(s, true)), c.want)
		})
	}
}

// TestRealServer probes a service modelled on the real MCP server and
// expects exactly the findings docs/probes.md gives for the real server: CORS violations are answered 200 instead of refused,
// preflights without a key get 401 even from the allowed origin, the 401
// for a missing key carries the non-standard error="missing_token", and
// (when OAuth is expected) there is no metadata document and no
// resource_metadata.
func TestRealServer(t *testing.T) {
	s := probetest.StartMCP(t)
	want := map[string]string{
		"tls":            "pass:",
		"plaintext":      "pass:",
		"auth":           "warn:no_credentials_error_code",
		"cors":           "fail:allowed_origin_not_echoed,disallowed_origin_post_not_refused",
		"oauth_metadata": "skip:",
	}
	rs := probe.Run(context.Background(), target(s, false))
	compare(t, rs, want)
	for _, r := range rs {
		if r.Check == "auth" && !strings.Contains(r.Detail(), `error="missing_token" (not an RFC 6750 error code)`) {
			t.Errorf("auth detail %q does not name the non-standard code", r.Detail())
		}
		if r.Check == "cors" && !strings.Contains(r.Detail(), "answered 200, want 403") {
			t.Errorf("cors detail %q does not say the violation was answered 200", r.Detail())
		}
	}

	t.Run("oauth expected", func(t *testing.T) {
		rs := probe.Run(context.Background(), target(s, true))
		compare(t, rs, with(want, "oauth_metadata", "fail:metadata_missing,resource_metadata_missing"))
	})
	t.Run("no key", func(t *testing.T) {
		tg := target(s, false)
		tg.APIKey = ""
		compare(t, probe.Run(context.Background(), tg), with(want,
			"auth", "warn:no_credentials_error_code untested:valid_key_not_tested",
			"cors", "fail:allowed_origin_not_echoed untested:disallowed_origin_post_not_tested"))
	})
}

// TestCertificateExpiry checks the warn and fail thresholds.
func TestCertificateExpiry(t *testing.T) {
	s := probetest.Start(t, probetest.None)
	leaf := s.TLS.TLS.Certificates[0]
	notAfter := mustLeaf(t, leaf.Certificate[0]).NotAfter
	for _, c := range []struct {
		left       time.Duration
		want, days string
	}{
		{30 * 24 * time.Hour, "pass:", "30"},
		{20*24*time.Hour + time.Hour, "warn:cert_expiry", "20"},
		{6*24*time.Hour + time.Hour, "fail:cert_expiry", "6"},
	} {
		tg := target(s, true)
		tg.Checks = []string{probe.CheckTLS}
		tg.Time = func() time.Time { return notAfter.Add(-c.left) }
		rs := probe.Run(context.Background(), tg)
		if got := outcome(rs)["tls"]; got != c.want {
			t.Errorf("%v before expiry: got %q, want %q (%s)", c.left, got, c.want, rs[0].Detail())
		}
		ev := rs[0].Event()
		if got, _ := ev.Get("cert_days_left"); got != c.days {
			t.Errorf("%v before expiry: cert_days_left = %q, want %q", c.left, got, c.days)
		}
	}
}

// TestUnreachable: nothing listening fails tls, auth, cors and oauth, and
// passes plaintext (refused).
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tg := probe.Target{URL: "https://" + addr + "/mcp", PlaintextURL: "http://" + addr + "/mcp", OAuth: true, Timeout: time.Second}
	compare(t, probe.Run(context.Background(), tg), map[string]string{
		"tls": "fail:modern_tls_failed", "plaintext": "pass:", "auth": "fail:no_credentials_unreachable",
		"cors": "fail:preflight_unreachable", "oauth_metadata": "fail:challenge_unreachable,metadata_missing",
	})
}

// TestKeyNeverShown: a hostile service reflects the Authorization header
// into every header it sends and redirects to another host with it; the
// key appears in no result, event or line, and is never sent to the other
// host (the redirect is not followed).
func TestKeyNeverShown(t *testing.T) {
	s := probetest.Start(t, probetest.ReflectAuthorize)
	rs := probe.Run(context.Background(), target(s, true))
	if len(rs) != len(probe.Checks) {
		t.Fatalf("got %d results, want %d", len(rs), len(probe.Checks))
	}
	for _, r := range rs {
		ev := r.Event()
		for _, f := range ev.Fields {
			if strings.Contains(f.Value, probetest.Key) || strings.Contains(f.Value, "RECOGNISABLE") {
				t.Errorf("%s: field %s holds the key: %q", r.Check, f.Key, f.Value)
			}
		}
		if strings.Contains(r.Line(), "RECOGNISABLE") {
			t.Errorf("line holds the key: %s", r.Line())
		}
	}
	// The reflection did reach the messages, masked.
	var all []string
	for _, r := range rs {
		all = append(all, r.Detail())
	}
	t.Log(strings.Join(all, "\n"))
	if !strings.Contains(strings.Join(all, "\n"), "[REDACTED]") {
		t.Errorf("no detail shows a masked reflection; the test does not exercise scrubbing:\n%s", strings.Join(all, "\n"))
	}
}

func TestSecretPrints(t *testing.T) {
	tg := probe.Target{APIKey: "hunter2"}
	for _, s := range []string{fmtV(tg), fmtPlusV(tg), fmtGoV(tg)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("formatted target shows the key: %s", s)
		}
	}
}

func TestValidateURL(t *testing.T) {
	for _, c := range []struct{ url, err string }{
		{"https://mcp.example.com/mcp", ""},
		{"http://mcp.example.com/mcp", "must be an https:// URL"},
		{"https://user:pw@mcp.example.com/", "must not hold user information (user:password@)"},
		{"https:///mcp", "has no host"},
	} {
		err := probe.ValidateURL(c.url)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("%s: got %q, want %q", c.url, got, c.err)
		}
	}
}
