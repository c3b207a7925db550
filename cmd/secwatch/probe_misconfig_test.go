package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/probe/probetest"
)

// misconfigs are the misconfigurations an earlier probe passed, each with
// the report line it must now print, the extra flags (and config lines)
// that reach it, and the alert the daemon's probe rules must raise.
var misconfigs = []struct {
	name   string // the daemon's probe name
	defect probetest.Defect
	noOrig bool   // run without an allowed origin
	line   string // the start of the report line
	rule   string
}{
	{"legacy-rsa", probetest.LegacyTLSRSA, false, "✗ tls             18.2 ", "probe-tls-failed"},
	{"preflight-401", probetest.PreflightNot2xx, false, "✗ cors            20.1 ", "probe-cors-failed"},
	{"null-origin", probetest.NullOrigin, false, "✗ cors            20.3 ", "probe-cors-failed"},
	{"plaintext-mcp", probetest.PlaintextMCP, false, "✗ plaintext       18.6 ", "probe-plaintext-failed"},
	{"untested-cors", probetest.None, true, "? cors            20.1, 20.5, 20.6 ", "probe-untested"},
	{"lenient-suffix", probetest.LenientSuffix, false, "✗ cors            20.3 ", "probe-cors-failed"},
	{"lenient-prefix", probetest.LenientPrefix, false, "✗ cors            20.3 ", "probe-cors-failed"},
	{"scheme-downgrade", probetest.SchemeDowngrade, false, "✗ cors            20.3 ", "probe-cors-failed"},
	{"legacy-untestable", probetest.LegacyUntestable, false, "? tls             18.2 ", "probe-untested"},
}

// TestProbeMisconfigurations: for each misconfiguration, `secwatch probe`
// exits 1 with the requirement named (untested parts with
// --fail-untested; without it they are shown as "?" and exit 0), and the
// daemon, probing all of them and a correct service whose key it reads from
// a file, raises the misconfiguration's alert and none for the correct
// service.
func TestProbeMisconfigurations(t *testing.T) {
	t.Setenv("SECWATCH_TEST_PROBE_KEY", probetest.Key)
	dir := t.TempDir()
	writeFile(t, dir, "ca.pem", string(probetest.CAPEM(t)))
	writeFile(t, dir, "key.txt", probetest.Key+"\n")
	good := probetest.Start(t, probetest.None)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "probes:\n  - {name: good, url: %q, plaintext_url: %q, allowed_origin: %q, api_key_file: key.txt, oauth: true, ca_bundle: ca.pem}\n",
		good.URL, good.PlaintextURL, probetest.AllowedOrigin)

	for _, m := range misconfigs {
		s := probetest.Start(t, m.defect)
		args := probeArgs(t, s)
		allowed := fmt.Sprintf("allowed_origin: %q, ", probetest.AllowedOrigin)
		if m.noOrig {
			args = append(args[:6], args[8:]...) // drop --allowed-origin
			allowed = ""
		}
		fmt.Fprintf(&cfg, "  - {name: %s, url: %q, plaintext_url: %q, %sapi_key_env: SECWATCH_TEST_PROBE_KEY, ca_bundle: ca.pem}\n",
			m.name, s.URL, s.PlaintextURL, allowed)
		untested := strings.HasPrefix(m.line, "?")
		out, errb, code := secwatch(t, "", args...)
		if want := map[bool]int{false: exitFailed, true: exitOK}[untested]; code != want {
			t.Errorf("%s: code %d, want %d\n%s%s", m.defect, code, want, out, errb)
		}
		line, ok := linePrefixed(out, m.line)
		if !ok {
			t.Errorf("%s: no line starting %q:\n%s", m.defect, m.line, out)
		}
		t.Logf("%s (%s): exit %d: %s", m.name, m.defect, code, line)
		if untested {
			_, _, code := secwatch(t, "", append(args, "--fail-untested")...)
			if code != exitFailed {
				t.Errorf("%s --fail-untested: code %d, want %d", m.defect, code, exitFailed)
			}
			t.Logf("%s with --fail-untested: exit %d", m.name, code)
		}
	}

	rules, err := filepath.Abs("../../rules/probe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	conf := writeFile(t, dir, "secwatch.yaml", "state_dir: state\nrules: ["+rules+"]\nalerts:\n  stdout: {enabled: true, format: json}\nhttp: {listen: \"\"}\n"+cfg.String())
	out, errb, code := secwatch(t, "", "run", "--once", "--config", conf)
	if code != exitOK {
		t.Fatalf("run --once: code %d\n%s", code, errb)
	}
	fired := map[string][]string{} // probe → rules
	for _, a := range parseAlerts(t, out) {
		fired[a.Group["probe"]] = append(fired[a.Group["probe"]], a.Rule)
	}
	for _, m := range misconfigs {
		t.Logf("daemon, probe %s: alerts %s", m.name, strings.Join(fired[m.name], ", "))
		if !contains(fired[m.name], m.rule) {
			t.Errorf("probe %s (%s): alerts %q, want %s", m.name, m.defect, fired[m.name], m.rule)
		}
	}
	if len(fired["good"]) != 0 {
		t.Errorf("the correct service raised %q", fired["good"])
	}
}

// linePrefixed returns the first line of text starting with prefix.
func linePrefixed(text, prefix string) (string, bool) {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l, true
		}
	}
	return "", false
}
