package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/probe"
)

const probeStdin = "sources: [{name: in, type: stdin}]\n"

func TestProbes(t *testing.T) {
	src := probeStdin + `probes:
  - name: mcp-prod
    url: https://mcp.example.com/mcp
  - name: mcp-staging
    url: https://staging.example.com:8443/mcp
    interval: 1m
    timeout: 5s
    checks: [tls, cors]
    origin: https://evil.example
    allowed_origin: https://app.example.com
    api_key_env: STAGING_KEY
    oauth: true
    plaintext_url: http://staging.example.com:8080/mcp
    ca_bundle: certs/internal-ca.pem
    cert_warn_days: 30
    cert_fail_days: 10
    disallowed_origin_post: warn
`
	c, err := parse(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Probe{
		{Name: "mcp-prod", URL: "https://mcp.example.com/mcp", Interval: 5 * time.Minute, Timeout: 10 * time.Second,
			Checks: probe.Checks, Origin: probe.DefaultOrigin, APIKeyEnv: "MCP_API_KEY", CertWarnDays: 21, CertFailDays: 7,
			DisallowedOriginPost: "fail"},
		{Name: "mcp-staging", URL: "https://staging.example.com:8443/mcp", Interval: time.Minute, Timeout: 5 * time.Second,
			Checks: []string{"tls", "cors"}, Origin: "https://evil.example", AllowedOrigin: "https://app.example.com",
			APIKeyEnv: "STAGING_KEY", OAuth: true, PlaintextURL: "http://staging.example.com:8080/mcp",
			CABundle: "certs/internal-ca.pem", CertWarnDays: 30, CertFailDays: 10, DisallowedOriginPost: "warn"},
	}
	if !reflect.DeepEqual(c.Probes, want) {
		t.Errorf("got  %+v\nwant %+v", c.Probes, want)
	}
	c.resolve("/etc/secwatch")
	if got, want := c.Probes[1].CABundle, "/etc/secwatch/certs/internal-ca.pem"; got != want {
		t.Errorf("resolved ca_bundle: got %q, want %q", got, want)
	}

	// A config with probes and no sources is a probe-only daemon.
	if _, err := parse(t, "probes:\n  - {name: p, url: \"https://x.example\"}\n", nil); err != nil {
		t.Errorf("probes without sources: %v", err)
	}
}

func TestProbeErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"not a list", "probes: {name: x}\n", `secwatch.yaml:2:9: probes: must be a list of probes, got a map`},
		{"http url", "probes:\n  - {name: p, url: \"http://x.example\"}\n",
			`secwatch.yaml:3:20: probes[0].url: must be an https:// URL, got "http://x.example"`},
		{"password in url", "probes:\n  - {name: p, url: \"https://u:pw@x.example\"}\n",
			`secwatch.yaml:3:20: probes[0].url: must not hold user information (user:password@), got "https://[REDACTED]@x.example"`},
		{"key in a plaintext url", "probes:\n  - {name: p, url: \"https://x.example\", plaintext_url: \"http://u:sk-live-1/2@x.example\"}\n",
			`secwatch.yaml:3:56: probes[0].plaintext_url: must not hold user information (user:password@), got "http://[REDACTED]@x.example"`},
		{"key file and key variable", "probes:\n  - {name: p, url: \"https://x.example\", api_key_env: K, api_key_file: k.txt}\n",
			`secwatch.yaml:3:71: probes[0].api_key_file: api_key_env and api_key_file exclude each other`},
		{"unknown check", "probes:\n  - {name: p, url: \"https://x.example\", checks: [tls, corz]}\n",
			`secwatch.yaml:3:55: probes[0].checks[1]: must be one of tls, plaintext, auth, cors, oauth_metadata (did you mean "cors"?), got "corz"`},
		{"key instead of env name", "probes:\n  - {name: p, url: \"https://x.example\", api_key_env: \"sk-live-123\"}\n",
			`secwatch.yaml:3:54: probes[0].api_key_env: must be the name of an environment variable (letters, digits and _), not the key itself; the value given is not shown`},
		{"fail days not below warn days", "probes:\n  - {name: p, url: \"https://x.example\", cert_warn_days: 7, cert_fail_days: 7}\n",
			`secwatch.yaml:3:76: probes[0].cert_fail_days: must be less than cert_warn_days (7), got 7`},
		{"origin with a path", "probes:\n  - {name: p, url: \"https://x.example\", origin: \"https://a.example/x\"}\n",
			`secwatch.yaml:3:49: probes[0].origin: must be an origin like "https://app.example.com" (scheme and host, no path, no user information), got "https://a.example/x"`},
		{"duplicate name", "probes:\n  - {name: p, url: \"https://x.example\"}\n  - {name: p, url: \"https://y.example\"}\n",
			`secwatch.yaml:4:12: probes[1].name: duplicate name "p", first defined at secwatch.yaml:3:12`},
		{"interval too short", "probes:\n  - {name: p, url: \"https://x.example\", interval: 1s}\n",
			`secwatch.yaml:3:51: probes[0].interval: must be between 10s and 24h, got "1s"`},
		{"typo", "probes:\n  - {name: p, url: \"https://x.example\", intervall: 1m}\n",
			`secwatch.yaml:3:41: probes[0].intervall: unknown field (did you mean "interval"?)`},
		{"severity", "probes:\n  - {name: p, url: \"https://x.example\", disallowed_origin_post: ignore}\n",
			`secwatch.yaml:3:65: probes[0].disallowed_origin_post: must be one of fail, warn, got "ignore"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(t, probeStdin+c.src, nil)
			if got := errString(err); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestDocsNameEveryProbeKey checks that docs/config.md has a table row for
// every probe key, as probes.<key>.
func TestDocsNameEveryProbeKey(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range probeKeys {
		if !regexp.MustCompile("(?m)^\\| `probes\\." + k + "` \\|").Match(data) {
			t.Errorf("docs/config.md has no table row for %q", "probes."+k)
		}
	}
	if !strings.Contains(string(data), "docs/probes.md") && !strings.Contains(string(data), "probes.md") {
		t.Error("docs/config.md does not link docs/probes.md")
	}
}
