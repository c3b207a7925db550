package loggen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// failure is one authentication failure as read back from a generated log,
// counted once (one line shape per format).
type failure struct {
	key  string // client IP; "" for the mcp formats
	t    int64  // µs
	path string // json and alb
}

var (
	secFailure = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - SECURITY - WARNING - SECURITY EVENT \[MEDIUM\]: authentication_failure - `)
	asctime    = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}`)
)

// readFailures parses a generated log independently of the generator and
// returns its authentication failures in file order.
func readFailures(t *testing.T, format string, data []byte) []failure {
	t.Helper()
	var out []failure
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch format {
		case "json":
			if !strings.Contains(line, `"authentication_failure"`) {
				continue
			}
			var e struct {
				EventType string `json:"event_type"`
				ClientIP  string `json:"client_ip"`
				Timestamp string `json:"timestamp"`
				Details   struct {
					Path string `json:"path"`
				} `json:"details"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			if e.EventType == "authentication_failure" {
				out = append(out, failure{e.ClientIP, mustTime(t, "2006-01-02T15:04:05.999999", e.Timestamp), e.Details.Path})
			}
		case "alb":
			f := albFields(line)
			if len(f) != 30 {
				t.Fatalf("line %d: %d fields, want 30: %s", n, len(f), line)
			}
			if f[8] == "401" {
				host, _, _ := strings.Cut(f[3], ":")
				req := strings.Fields(f[12])
				u := req[1][strings.Index(req[1], ":443/")+4:]
				out = append(out, failure{host, mustTime(t, time.RFC3339Nano, f[1]), u})
			}
		case "mcp-text":
			if m := secFailure.FindStringSubmatch(line); m != nil {
				out = append(out, failure{t: mustTime(t, "2006-01-02 15:04:05,000", m[1])})
			}
		case "mcp-cloudwatch":
			var e struct {
				Message, Logger string
				Timestamp       json.Number
			}
			d := json.NewDecoder(strings.NewReader(line))
			d.UseNumber()
			if err := d.Decode(&e); err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			ts := epochMicros(t, e.Timestamp.String())
			// The message's asctime is the record time truncated to ms.
			if got, want := asctime.FindString(e.Message), utc(ts).Format("2006-01-02 15:04:05,000"); got != want {
				t.Fatalf("line %d: asctime %q, want %q from timestamp %s", n, got, want, e.Timestamp)
			}
			if e.Logger == "security" && secFailure.MatchString(e.Message) {
				out = append(out, failure{t: ts})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// albFields splits an ALB line into its fields, quoted ones unquoted.
func albFields(line string) []string {
	var f []string
	for line != "" {
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"') + 1
			f = append(f, line[1:end])
			line = strings.TrimPrefix(line[end+1:], " ")
			continue
		}
		v, rest, _ := strings.Cut(line, " ")
		f = append(f, v)
		line = rest
	}
	return f
}

func mustTime(t *testing.T, layout, s string) int64 {
	t.Helper()
	tm, err := time.Parse(layout, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

// epochMicros parses decimal epoch seconds exactly.
func epochMicros(t *testing.T, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000")[:6]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad epoch %q", s)
	}
	return a*second + b
}

// maxInWindow returns, for sorted times, the most that fall in any
// half-open window (T-5m, T], and the index of a T that reaches it.
func maxInWindow(ts []int64) int {
	best, lo := 0, 0
	for hi, t := range ts {
		for ts[lo] <= t-window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

type simAlert struct {
	key string
	t   int64
}

// simulate applies the threshold semantics of docs/rules.md to the
// failures in file order: more than 10 in (T-5m, T], where T is the
// greatest time seen for the key; late events outside the window ignored;
// no second alert while T < T0+cooldown.
func simulate(fs []failure, cooldown int64) []simAlert {
	type group struct {
		ts     []int64
		maxT   int64
		until  int64
		cooled bool
	}
	groups := map[string]*group{}
	var alerts []simAlert
	for _, f := range fs {
		g := groups[f.key]
		if g == nil {
			g = &group{maxT: f.t}
			groups[f.key] = g
		}
		g.maxT = max(g.maxT, f.t)
		lo := g.maxT - window
		if f.t <= lo {
			continue // late, outside the window
		}
		g.ts = append(g.ts, f.t)
		g.ts = slices.DeleteFunc(g.ts, func(x int64) bool { return x <= lo })
		if len(g.ts) > 10 && !(g.cooled && g.maxT < g.until) {
			alerts = append(alerts, simAlert{f.key, g.maxT})
			g.cooled, g.until = true, g.maxT+cooldown
		}
	}
	return alerts
}

// verify checks tr against the failures read from a log by brute force and
// returns the problems found.
func verify(fs []failure, tr Truth) []string {
	var p problems
	if n := tr.Counts["authentication_failure"]; len(fs) != n {
		p.add("read %d failures, truth counts %d", len(fs), n)
	}
	late := 0
	for i := 1; i < len(fs); i++ {
		if fs[i].t < fs[i-1].t {
			late++
		}
	}
	if tr.Late > 0 && late == 0 && len(fs) > 1000 {
		p.add("no failure out of order, truth says %d late events", tr.Late)
	}
	if tr.Format == "json" || tr.Format == "alb" {
		p.perIP(fs, tr)
	} else {
		p.global(fs, tr)
	}
	for _, cooldown := range []int64{window, 15 * minute} {
		alerts := simulate(fs, cooldown)
		if len(alerts) != len(tr.AttackBursts) {
			p.add("cooldown %ds: %d alerts, want one per attacker: %d", cooldown/second, len(alerts), len(tr.AttackBursts))
		}
		used := map[int]bool{}
		for _, a := range alerts {
			i := slices.IndexFunc(tr.AttackBursts, func(b Burst) bool {
				return b.Key == a.key && !b.First.After(utc(a.t)) && !b.Last.Before(utc(a.t).Truncate(time.Millisecond))
			})
			if i < 0 || used[i] {
				p.add("cooldown %ds: alert %q at %s is not the first alert of an attack burst", cooldown/second, a.key, utc(a.t))
				continue
			}
			used[i] = true
		}
	}
	return p
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p *problems) perIP(fs []failure, tr Truth) {
	byKey := map[string][]int64{}
	pathsOf := map[string]map[string]bool{}
	for _, f := range fs {
		byKey[f.key] = append(byKey[f.key], f.t)
		if pathsOf[f.key] == nil {
			pathsOf[f.key] = map[string]bool{}
		}
		pathsOf[f.key][f.path] = true
	}
	var attackers, near []string
	for k, ts := range byKey {
		slices.Sort(ts)
		m := maxInWindow(ts)
		switch {
		case m > 10:
			attackers = append(attackers, k)
		case m == 10:
			near = append(near, k)
		case m > maxKeep && !slices.Contains(tr.Probers, k):
			p.add("%s: %d failures in 5 minutes, benign keys have at most %d", k, m, maxKeep)
		}
		if len(pathsOf[k]) > 20 != slices.Contains(tr.Probers, k) {
			p.add("%s: %d distinct failure paths, prober: %v", k, len(pathsOf[k]), slices.Contains(tr.Probers, k))
		}
	}
	sortAddrs(attackers)
	sortAddrs(near)
	if !slices.Equal(attackers, tr.Attackers) {
		p.add("attackers by brute force:\n%v\ntruth:\n%v", attackers, tr.Attackers)
	}
	if !slices.Equal(near, tr.NearMisses) {
		p.add("near misses by brute force:\n%v\ntruth:\n%v", near, tr.NearMisses)
	}
	for _, b := range append(slices.Clone(tr.AttackBursts), tr.NearMissBursts...) {
		if got := maxInWindow(byKey[b.Key]); got != b.MaxInWindow {
			p.add("%s: at most %d failures in 5 minutes, truth says %d", b.Key, got, b.MaxInWindow)
		}
	}
}

func sortAddrs(s []string) {
	slices.SortFunc(s, func(a, b string) int {
		return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
	})
}

// global checks the mcp formats, whose key is the whole log: every
// window ending inside an attack burst reaches the burst's count, inside a
// near miss exactly 10, and anywhere else at most maxKeep.
func (p *problems) global(fs []failure, tr Truth) {
	ts := make([]int64, len(fs))
	for i, f := range fs {
		ts[i] = f.t
	}
	slices.Sort(ts)
	type span struct {
		b     Burst
		most  int
		label string
	}
	var spans []*span
	for _, b := range tr.AttackBursts {
		spans = append(spans, &span{b: b, label: "attack burst"})
	}
	for _, b := range tr.NearMissBursts {
		spans = append(spans, &span{b: b, label: "near miss"})
	}
	lo := 0
	for hi, x := range ts {
		for ts[lo] <= x-window {
			lo++
		}
		n := hi - lo + 1
		at := utc(x)
		i := slices.IndexFunc(spans, func(s *span) bool {
			return !at.Before(s.b.First.Truncate(time.Millisecond)) && !at.After(s.b.Last)
		})
		if i < 0 {
			if n > maxKeep {
				p.add("%s: %d failures in 5 minutes outside any burst", at, n)
			}
			continue
		}
		spans[i].most = max(spans[i].most, n)
	}
	for _, s := range spans {
		if s.most != s.b.MaxInWindow {
			p.add("%s %s: at most %d failures in 5 minutes, truth says %d", s.label, s.b.First, s.most, s.b.MaxInWindow)
		}
	}
	if len(tr.Attackers) != len(tr.AttackBursts) || len(tr.NearMisses) != len(tr.NearMissBursts) {
		p.add("truth lists %d/%d attackers and %d/%d near misses", len(tr.Attackers), len(tr.AttackBursts), len(tr.NearMisses), len(tr.NearMissBursts))
	}
}

func generate(t *testing.T, cfg Config) ([]byte, Truth) {
	t.Helper()
	var buf bytes.Buffer
	tr, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), tr
}

func TestTruthByBruteForce(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"json", Config{Format: "json", Seed: 7, Events: 30000, ClientIPs: 1500, LateFraction: 0.01}},
		{"json many attackers", Config{Format: "json", Seed: 8, Events: 30000, ClientIPs: 400, AttackerFraction: 0.3, NearMisses: 30, Duration: time.Hour}},
		{"alb", Config{Format: "alb", Seed: 7, Events: 30000, ClientIPs: 1500, LateFraction: 0.01}},
		{"mcp-text", Config{Format: "mcp-text", Seed: 7, Events: 20000, ClientIPs: 200, NearMisses: 6, Duration: 24 * time.Hour}},
		{"mcp-cloudwatch", Config{Format: "mcp-cloudwatch", Seed: 9, Events: 20000, ClientIPs: 200, NearMisses: 6, LateFraction: 0.01}},
		{"mcp-text busy", Config{Format: "mcp-text", Seed: 10, Events: 80000, ClientIPs: 300, AttackerFraction: 0.02, NearMisses: 3, Duration: 6 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, tr := generate(t, tc.cfg)
			if len(tr.AttackBursts) == 0 || len(tr.NearMissBursts) == 0 {
				t.Fatalf("%d attackers and %d near misses: nothing to check", len(tr.AttackBursts), len(tr.NearMissBursts))
			}
			if !slices.ContainsFunc(tr.NearMissBursts, func(b Burst) bool { return b.Count == 11 }) {
				t.Errorf("no near miss with an 11th failure exactly 5 minutes after the first")
			}
			fs := readFailures(t, tr.Format, data)
			for _, p := range verify(fs, tr) {
				t.Error(p)
			}
			if got := bytes.Count(data, []byte{'\n'}); got != tr.Lines {
				t.Errorf("%d lines, truth says %d", got, tr.Lines)
			}
		})
	}
}

// TestVerifyCatchesWrongTruth makes sure the brute-force check can fail.
func TestVerifyCatchesWrongTruth(t *testing.T) {
	data, tr := generate(t, Config{Format: "json", Seed: 3, Events: 5000, ClientIPs: 200})
	fs := readFailures(t, tr.Format, data)
	if p := verify(fs, tr); len(p) > 0 {
		t.Fatalf("the true truth fails: %v", p)
	}
	for name, mutate := range map[string]func(tr *Truth){
		"attacker listed as near miss": func(tr *Truth) {
			tr.NearMisses = append([]string{tr.Attackers[0]}, tr.NearMisses...)
			tr.Attackers = tr.Attackers[1:]
		},
		"burst count off by one": func(tr *Truth) { tr.AttackBursts[0].MaxInWindow++ },
	} {
		bad := tr
		bad.Attackers = slices.Clone(tr.Attackers)
		bad.NearMisses = slices.Clone(tr.NearMisses)
		bad.AttackBursts = slices.Clone(tr.AttackBursts)
		mutate(&bad)
		if p := verify(fs, bad); len(p) == 0 {
			t.Errorf("%s: verify found no problem", name)
		}
	}
	// An extra failure inside a near miss's window must be caught too.
	nm := tr.NearMissBursts[0]
	extra := append(slices.Clone(fs), failure{key: nm.Key, t: nm.Last.UnixMicro(), path: "/mcp"})
	if p := verify(extra, tr); len(p) == 0 {
		t.Error("an 11th failure in a near miss's window: verify found no problem")
	}
}
