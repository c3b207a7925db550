package probe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/probe"
)

// TestPlaintextAnswers checks how each answer over plain HTTP is judged.
func TestPlaintextAnswers(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"permanent redirect", redirect("https://127.0.0.1:8443/mcp", http.StatusPermanentRedirect), "pass:"},
		{"temporary redirect", redirect("https://127.0.0.1:8443/mcp", http.StatusFound), "warn:plaintext_redirect_temporary"},
		{"redirect to another host", redirect("https://evil.example/mcp", http.StatusMovedPermanently), "fail:plaintext_redirect_other_host"},
		{"redirect to http", redirect("http://127.0.0.1:8080/mcp", http.StatusMovedPermanently), "fail:plaintext_redirect_not_https"},
		// The endpoint authenticates in clear: clients send their key there.
		{"401 in clear", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, "fail:plaintext_auth_served"},
		{"404 in clear", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }, "warn:plaintext_answered"},
		{"204 in clear", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, "fail:plaintext_served"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := httptest.NewServer(c.handler)
			defer s.Close()
			rs := probe.Run(context.Background(), probe.Target{
				URL: "https://127.0.0.1:8443/mcp", PlaintextURL: s.URL + "/mcp", Checks: []string{probe.CheckPlaintext}, Timeout: 2 * time.Second,
			})
			if got := outcome(rs)["plaintext"]; got != c.want {
				t.Errorf("got %q, want %q (%s)", got, c.want, rs[0].Detail())
			}
		})
	}
}

func redirect(to string, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, code) }
}

// TestChallengeParsing: quoted commas, several challenges, a missing
// realm, an error code where none is wanted. The server refuses every key,
// so valid_key_refused fails in every case; the other codes are the
// challenge's. The key is one character: the detail must still read
// "the API key was refused" (not "the API [REDACTED]ey"), and a Basic
// challenge's realm is shown as sent, not taken for a credential.
func TestChallengeParsing(t *testing.T) {
	cases := []struct {
		name, header, want string
	}{
		{"quoted comma and another scheme first", `Basic realm="x", Bearer realm="a, b"`, "fail:valid_key_refused"},
		{"error on a request without credentials", `Bearer realm="mcp", error="invalid_request"`, "fail:no_credentials_error_code,valid_key_refused"},
		{"no realm", `Bearer`, "fail:no_credentials_no_realm,valid_key_refused"},
		{"not bearer", `Basic realm="mcp"`, "fail:no_credentials_not_bearer,valid_key_refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := c.header
				if r.Header.Get("Authorization") != "" {
					h = `Bearer realm="mcp", error="invalid_token"`
				}
				w.Header().Set("WWW-Authenticate", h)
				w.WriteHeader(http.StatusUnauthorized)
			}))
			defer s.Close()
			pool := s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
			rs := probe.Run(context.Background(), probe.Target{
				URL: s.URL + "/mcp", Checks: []string{probe.CheckAuth}, RootCAs: pool, APIKey: "k", Timeout: 2 * time.Second,
			})
			if got := outcome(rs)["auth"]; got != c.want {
				t.Errorf("got %q, want %q (%s)", got, c.want, rs[0].Detail())
			}
			want := []string{"the API key was refused with 401"}
			if c.name == "not bearer" {
				want = append(want, `scheme Bearer: "Basic realm=\"mcp\""`)
			}
			for _, w := range want {
				if !strings.Contains(rs[0].Detail(), w) {
					t.Errorf("detail %q lacks %q", rs[0].Detail(), w)
				}
			}
		})
	}
}
