package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/probe/probetest"
)

// probeArgs are the flags that point the probe at a test service.
func probeArgs(t *testing.T, s *probetest.Server, extra ...string) []string {
	t.Helper()
	ca := writeFile(t, t.TempDir(), "ca.pem", string(probetest.CAPEM(t)))
	args := []string{"probe", s.URL, "--ca-bundle", ca, "--plaintext-url", s.PlaintextURL,
		"--allowed-origin", probetest.AllowedOrigin, "--api-key-env", "SECWATCH_TEST_PROBE_KEY"}
	return append(args, extra...)
}

func TestProbeCommand(t *testing.T) {
	t.Setenv("SECWATCH_TEST_PROBE_KEY", probetest.Key)

	t.Run("correct service", func(t *testing.T) {
		s := probetest.Start(t, probetest.None)
		out, errb, code := secwatch(t, "", probeArgs(t, s, "--oauth")...)
		if code != exitOK {
			t.Fatalf("code %d, want %d\n%s%s", code, exitOK, out, errb)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 7 {
			t.Fatalf("got %d lines, want a header, 5 checks and a summary:\n%s", len(lines), out)
		}
		for i, want := range []string{"✓ tls             18.2 ", "✓ plaintext       18.4, 18.6 ", "✓ auth            19.1, 19.3, 19.7 ",
			"✓ cors            20.1-20.6 ", "✓ oauth_metadata  24.5 "} {
			if !strings.HasPrefix(lines[i+1], want) {
				t.Errorf("line %d: got %q, want it to start with %q", i+2, lines[i+1], want)
			}
		}
		if want := "5 checks: 5 passed, 0 failed, 0 warnings, 0 partly untested, 0 not applicable"; lines[6] != want {
			t.Errorf("summary: got %q, want %q", lines[6], want)
		}
	})

	t.Run("flags after the URL, one failing check", func(t *testing.T) {
		s := probetest.Start(t, probetest.WildcardCORS)
		args := probeArgs(t, s)
		// secwatch probe URL --json --check cors ...
		args = append([]string{"probe", s.URL, "--json", "--check", "cors"}, args[2:]...)
		out, errb, code := secwatch(t, "", args...)
		if code != exitFailed {
			t.Fatalf("code %d, want %d\n%s%s", code, exitFailed, out, errb)
		}
		var ev map[string]string
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ev); err != nil {
			t.Fatalf("--json output is not one JSON object: %v\n%s", err, out)
		}
		for k, want := range map[string]string{"event_type": "probe", "check": "cors", "ok": "false", "status": "fail",
			"requirement": "20.2", "findings": "wildcard_origin", "target": s.URL} {
			if ev[k] != want {
				t.Errorf("%s: got %q, want %q", k, ev[k], want)
			}
		}
	})

	t.Run("real MCP server", func(t *testing.T) {
		s := probetest.StartMCP(t)
		out, _, code := secwatch(t, "", probeArgs(t, s)...)
		if code != exitFailed {
			t.Fatalf("code %d, want %d\n%s", code, exitFailed, out)
		}
		for _, want := range []string{
			"! auth            19.7              no credentials: challenge carries error=\"missing_token\" (not an RFC 6750 error code)",
			"✗ cors            20.1, 20.3        preflight from allowed origin \"https://app.example.com\" answered 401, not 2xx: browsers fail it",
			"- oauth_metadata  24.5              not applicable: OAuth is not configured for this target",
			"5 checks: 2 passed, 1 failed, 1 warnings, 0 partly untested, 1 not applicable",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"probe", "--help"}, exitOK, "Usage: secwatch probe [flags] URL"},
			{[]string{"probe"}, exitUsage, "a URL is required"},
			{[]string{"probe", "http://mcp.example.com/mcp"}, exitUsage, `URL must be an https:// URL, got "http://mcp.example.com/mcp"`},
			{[]string{"probe", "https://mcp.example.com/mcp", "--check", "tsl"}, exitUsage, "--check must be one of"},
			{[]string{"probe", "https://a.example", "https://b.example"}, exitUsage, "unexpected arguments"},
		} {
			out, errb, code := secwatch(t, "", c.args...)
			if code != c.code || !strings.Contains(out+errb, c.want) {
				t.Errorf("%q: code %d, output %q; want code %d and %q", c.args, code, out+errb, c.code, c.want)
			}
		}
	})
}

// TestProbeNeverShowsKey runs every check with a recognisable key, against
// a service that reflects the Authorization header it saw into every later
// response and one modelled on the real server, through the one-off command
// (text and JSON) and through the daemon with the shipped probe rules:
// the key appears nowhere in stdout, stderr, the daemon's log or the alert
// documents (stdout and the state directory).
func TestProbeNeverShowsKey(t *testing.T) {
	t.Setenv("SECWATCH_TEST_PROBE_KEY", probetest.Key)
	hostile := probetest.StartMCP(t)
	reflect := probetest.Start(t, probetest.ReflectAuthorize)
	secret := []string{probetest.Key, "RECOGNISABLE"}
	check := func(where, text string) {
		t.Helper()
		for _, s := range secret {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the key:\n%s", where, text)
			}
		}
	}
	for _, s := range []*probetest.Server{hostile, reflect} {
		for _, extra := range [][]string{{"--oauth"}, {"--json", "--oauth"}} {
			out, errb, _ := secwatch(t, "", probeArgs(t, s, extra...)...)
			if !strings.Contains(out, "cors") {
				t.Fatalf("no report:\n%s%s", out, errb)
			}
			check("probe stdout", out)
			check("probe stderr", errb)
		}
	}

	dir := t.TempDir()
	writeFile(t, dir, "ca.pem", string(probetest.CAPEM(t))) // ca_bundle: relative to the config
	rules, err := filepath.Abs("../../rules/probe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "secwatch.yaml", `state_dir: state
rules: [`+rules+`]
alerts:
  stdout: {enabled: true, format: json}
http: {listen: ""}
log: {level: debug, format: json}
probes:
  - name: hostile
    url: `+hostile.URL+`
    plaintext_url: `+hostile.PlaintextURL+`
    allowed_origin: `+probetest.AllowedOrigin+`
    api_key_env: SECWATCH_TEST_PROBE_KEY
    oauth: true
    ca_bundle: ca.pem
  - name: reflect
    url: `+reflect.URL+`
    plaintext_url: `+reflect.PlaintextURL+`
    allowed_origin: `+probetest.AllowedOrigin+`
    api_key_env: SECWATCH_TEST_PROBE_KEY
    oauth: true
    ca_bundle: ca.pem
`)
	// The daemon logs from several goroutines: buffers safe for that.
	var outBuf, errBuf syncBuffer
	code := run(context.Background(), []string{"run", "--once", "--config", cfg}, strings.NewReader(""), &outBuf, &errBuf)
	out, errb := outBuf.String(), errBuf.String()
	if code != exitOK {
		t.Fatalf("run --once: code %d\n%s", code, errb)
	}
	// The test means something only if alerts were written: the real
	// server's CORS failure and the reflecting server's auth failure.
	for _, want := range []string{`"probe-cors-failed"`, `"probe-auth-failed"`, `"probe-oauth-metadata-failed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s alert in stdout:\n%s", want, out)
		}
	}
	if !strings.Contains(errb, "probe check changed") {
		t.Errorf("the daemon logged no probe result:\n%s", errb)
	}
	check("daemon stdout (alert documents)", out)
	check("daemon stderr (log)", errb)
	err = filepath.Walk(filepath.Join(dir, "state"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		check("state file "+path, string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
