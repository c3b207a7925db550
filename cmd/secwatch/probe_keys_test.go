package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/probe/probetest"
)

// keyAlphabet is what API keys are made of (token68 without "=").
const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// randomKey returns a key of 1 to 3 characters one time in three, else of
// 4 to 40, with at least one letter or digit.
func randomKey(r *rand.Rand) string {
	n := 4 + r.IntN(37)
	if r.IntN(3) == 0 {
		n = 1 + r.IntN(3)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = keyAlphabet[r.IntN(len(keyAlphabet))]
	}
	b[r.IntN(n)] = keyAlphabet[r.IntN(62)]
	return string(b)
}

// twin returns a key of the same shape as key (letters rotated by 13,
// digits by 5, other characters kept): a run given the twin takes the same
// path (a valid variable name stays one, a URL parses the same) and prints
// the same, unless it prints the key.
func twin(key string) string {
	b := []byte(key)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		case c >= '0' && c <= '9':
			b[i] = '0' + (c-'0'+5)%10
		}
	}
	return string(b)
}

// hasToken reports whether s holds key as a whole token (no key character
// on either side), the way redaction masks a short key.
func hasToken(s, key string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], key)
		if i < 0 {
			return false
		}
		i += from
		j := i + len(key)
		if (i == 0 || !isKeyChar(s[i-1])) && (j == len(s) || !isKeyChar(s[j])) {
			return true
		}
		from = i + 1
	}
}

func isKeyChar(c byte) bool { return strings.IndexByte(keyAlphabet+"=", c) >= 0 }

// TestProbeKeyProperty: for random keys (a third of them 1 to 3
// characters) and every path on which the user may put the key where it
// gets echoed, the output does not depend on the key: a run with the key
// prints exactly what a run with its twin prints. That proves the key
// appears nowhere (stdout, stderr, the daemon's alerts and state), and that
// redaction alters nothing else: masking a short key inside words would
// make the two runs differ. A key that the output holds anyway as a whole
// token (the key "200" and a status 200) is skipped on the paths that
// know the key, where masking it there is intended; the skips are counted.
// The seed is fixed; SECWATCH_PROBE_KEY_SEED overrides it.
func TestProbeKeyProperty(t *testing.T) {
	seed := uint64(21)
	if s := os.Getenv("SECWATCH_PROBE_KEY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	r := rand.New(rand.NewPCG(seed, 21))
	mcp := probetest.StartMCP(t)
	reflect := probetest.Start(t, probetest.ReflectAuthorize)
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.pem", string(probetest.CAPEM(t)))
	host := strings.TrimPrefix(mcp.URL, "https://")
	cli := func(s *probetest.Server, extra ...string) []string {
		return append([]string{"probe", s.URL, "--ca-bundle", ca, "--plaintext-url", s.PlaintextURL,
			"--allowed-origin", probetest.AllowedOrigin, "--check", "auth", "--check", "cors"}, extra...)
	}
	probeRun := func(args ...string) runOutput {
		out, errb, code := secwatch(t, "", args...)
		return runOutput{text: volatile.ReplaceAllString(fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb), "V")}
	}
	withEnv := func(key string, f func() runOutput) runOutput {
		t.Setenv("SECWATCH_TEST_PROBE_KEY", key)
		defer os.Unsetenv("SECWATCH_TEST_PROBE_KEY")
		return f()
	}
	paths := []struct {
		name string
		// knows: the probe holds the key and masks it in what servers
		// send back; a key the output holds anyway is masked there too.
		knows bool
		run   func(key string) runOutput
	}{
		{"--api-key-env KEY", false, func(k string) runOutput {
			if _, set := os.LookupEnv(k); set {
				return runOutput{} // a real variable of this environment: not a mistake
			}
			return probeRun(cli(mcp, "--api-key-env", k)...)
		}},
		{"--api-key-file KEY", false, func(k string) runOutput {
			return probeRun(cli(mcp, "--api-key-file", k)...)
		}},
		{"URL https://user:KEY@host/", false, func(k string) runOutput {
			return probeRun("probe", "https://user:"+k+"@"+host, "--ca-bundle", ca)
		}},
		{"URL https://KEY@host/", false, func(k string) runOutput {
			return probeRun("probe", "https://"+k+"@"+host, "--ca-bundle", ca)
		}},
		{"--plaintext-url http://user:KEY@host/", false, func(k string) runOutput {
			return probeRun("probe", mcp.URL, "--ca-bundle", ca, "--plaintext-url", "http://user:"+k+"@127.0.0.1:1/mcp")
		}},
		{"--allowed-origin https://user:KEY@host", false, func(k string) runOutput {
			return probeRun("probe", mcp.URL, "--ca-bundle", ca, "--allowed-origin", "https://user:"+k+"@app.example.com")
		}},
		{"key in the variable, real server", true, func(k string) runOutput {
			return withEnv(k, func() runOutput { return probeRun(cli(mcp, "--api-key-env", "SECWATCH_TEST_PROBE_KEY")...) })
		}},
		{"key in the variable, reflecting server", true, func(k string) runOutput {
			return withEnv(k, func() runOutput {
				return probeRun(cli(reflect, "--api-key-env", "SECWATCH_TEST_PROBE_KEY", "--json")...)
			})
		}},
		{"key in a file, reflecting server", true, func(k string) runOutput {
			return probeRun(cli(reflect, "--api-key-file", writeFile(t, dir, "key.txt", k+"\n"))...)
		}},
		{"config api_key_env: KEY", false, func(k string) runOutput {
			if _, set := os.LookupEnv(k); set {
				return runOutput{}
			}
			return daemonRun(t, dir, mcp, "api_key_env: "+strconv.Quote(k))
		}},
		{"config api_key_file: KEY", false, func(k string) runOutput {
			return daemonRun(t, dir, mcp, "api_key_file: "+strconv.Quote(k))
		}},
		{"config url: https://user:KEY@host/", false, func(k string) runOutput {
			return daemonRun(t, dir, mcp, "api_key_env: SECWATCH_TEST_PROBE_KEY", "url: "+strconv.Quote("https://user:"+k+"@"+host))
		}},
		{"config plaintext_url: http://user:KEY@host/", false, func(k string) runOutput {
			return daemonRun(t, dir, mcp, "plaintext_url: "+strconv.Quote("http://user:"+k+"@127.0.0.1:1/"))
		}},
		{"config, key in the variable, reflecting server", true, func(k string) runOutput {
			return withEnv(k, func() runOutput { return daemonRun(t, dir, reflect, "api_key_env: SECWATCH_TEST_PROBE_KEY") })
		}},
	}
	const n = 30
	runs, short, skipped := 0, 0, 0
	for i := range n {
		key := randomKey(r)
		if len(key) <= 3 {
			short++
		}
		for _, p := range paths {
			if strings.HasPrefix(p.name, "config") && i%3 != 0 {
				continue // a daemon run is slower: every third key
			}
			want := p.run(twin(key))
			if p.knows && hasToken(want.text, key) {
				skipped++
				continue
			}
			got := p.run(key)
			runs++
			if got.text != want.text {
				t.Errorf("%s, key %q (twin %q): the output depends on the key\nwith the key:\n%s\nwith its twin:\n%s", p.name, key, twin(key), got.text, want.text)
			}
			if len(key) >= 4 && strings.Contains(got.binary, key) {
				t.Errorf("%s, key %q: the state holds the key", p.name, key)
			}
		}
	}
	t.Logf("seed %d: %d keys (%d of 1-3 characters), %d paths, %d compared runs, %d skipped (key in the output anyway)", seed, n, short, len(paths), runs, skipped)
}

// runOutput is what one run printed and stored: text, compared whole, and the
// binary state files (checkpoints: their bytes differ from run to run),
// searched for keys of 4 characters or more. What a checkpoint holds of an
// alert (group values, samples) is also in the alert documents on stdout,
// which are compared whole, short keys included.
type runOutput struct{ text, binary string }

// volatile are the parts of a daemon run that differ between two runs:
// times, durations and alert ids.
var volatile = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)|"(alert_id|id|duration|elapsed|took|pid)":("[^"]*"|[0-9.]+)|\b[0-9a-f]{32,}\b`)

// daemonRun runs `secwatch run --once` with the shipped probe rules and one
// probe of s whose config lines are lines (an url line replaces the
// default), and returns its exit code, stdout (the alert documents),
// stderr (the log) and every state file, with volatile parts replaced and
// log lines sorted (goroutines log in any order).
func daemonRun(t *testing.T, dir string, s *probetest.Server, lines ...string) runOutput {
	t.Helper()
	rules, err := filepath.Abs("../../rules/probe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	os.RemoveAll(state)
	probe := map[string]string{"url": "url: " + s.URL, "plaintext_url": "plaintext_url: " + s.PlaintextURL,
		"allowed_origin": "allowed_origin: " + probetest.AllowedOrigin, "ca_bundle": "ca_bundle: ca.pem", "checks": "checks: [auth, cors]"}
	for _, l := range lines {
		k, _, _ := strings.Cut(l, ":")
		probe[k] = l
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range probe {
			if !yield(k) {
				return
			}
		}
	})
	cfg := "state_dir: state\nrules: [" + rules + "]\nalerts:\n  stdout: {enabled: true, format: json}\nhttp: {listen: \"\"}\nlog: {level: debug, format: json}\nprobes:\n  - name: p\n"
	for _, k := range keys {
		cfg += "    " + probe[k] + "\n"
	}
	conf := writeFile(t, dir, "secwatch.yaml", cfg)
	out, errb, code := secwatch(t, "", "run", "--once", "--config", conf)
	var files []string
	var binary strings.Builder
	filepath.Walk(state, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(path)
			if utf8.Valid(data) {
				files = append(files, strings.TrimPrefix(path, state)+":\n"+sortedLines(string(data)))
			} else {
				binary.Write(data)
			}
		}
		return nil
	})
	text := fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s\nstate:\n%s", code, sortedLines(out), sortedLines(errb), strings.Join(files, "\n"))
	return runOutput{text: text, binary: binary.String()}
}

// sortedLines is s with its volatile parts replaced and its lines sorted.
func sortedLines(s string) string {
	lines := strings.Split(volatile.ReplaceAllString(s, "V"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestCredentialInLog: a key the server writes into its log in clear is
// its own finding (mcp-credential-in-log), and the alert's samples show it
// masked.
func TestCredentialInLog(t *testing.T) {
	const key = "sk-live-RECOGNISABLE-0123456789abcdef"
	log := writeFile(t, t.TempDir(), "mcp.log",
		"2026-01-28 21:00:00,000 - SECURITY - WARNING - SECURITY EVENT [MEDIUM]: authentication_failure - Invalid API key "+key+"\n"+
			"2026-01-28 21:00:05,000 - SECURITY - WARNING - SECURITY EVENT [MEDIUM]: authentication_failure - Invalid API key qwertyuiopasdf\n")
	out, errb, code := secwatch(t, "", "replay", "--rules", "../../rules/mcp.yaml", "--format", "mcp", "--output", "json", log)
	if code != exitOK {
		t.Fatalf("replay: code %d\n%s", code, errb)
	}
	var rules []string
	for _, a := range parseAlerts(t, out) {
		rules = append(rules, a.Rule)
	}
	if !contains(rules, "mcp-credential-in-log") {
		t.Errorf("alerts %q, want mcp-credential-in-log", rules)
	}
	for _, k := range []string{key, "RECOGNISABLE", "qwertyuiopasdf"} {
		if strings.Contains(out+errb, k) {
			t.Errorf("the output holds the key %q:\n%s%s", k, out, errb)
		}
	}
	if !strings.Contains(out, "Invalid API key [REDACTED]") {
		t.Errorf("no masked sample:\n%s", out)
	}
}
