package rules_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/ruletest"
)

// TestRuleTests runs every *_test.yaml in this directory: the shipped rule
// packs against hand-written inputs with exactly the alerts expected.
func TestRuleTests(t *testing.T) {
	for _, r := range runRuleTests(t) {
		t.Run(fmt.Sprintf("%s:%d", filepath.Base(r.File), r.Line), func(t *testing.T) {
			if r.Err != nil {
				t.Fatalf("%s: %v", r.Name, r.Err)
			}
			if !r.Passed() {
				var b strings.Builder
				for _, m := range r.Missing {
					b.WriteString("\n  missing:    " + m)
				}
				for _, u := range r.Unexpected {
					b.WriteString("\n  unexpected: " + u)
				}
				t.Errorf("%s:%s", r.Name, b.String())
			}
		})
	}
}

// TestRuleCoverage checks that every shipped rule is tested both ways: a
// passing test in which it fires, and a passing near miss in which it sees
// matching events, is evaluated, and must not fire.
//
// A threshold rule with threshold 0 fires on every event it counts (outside
// its cooldown), so a near miss with matching events cannot exist for it.
// Its near miss is a test restricted to it with rules: [...] whose input holds
// lookalike lines (the duplicate copies, the noise lines, the neighbouring
// event types) that must not match.
func TestRuleCoverage(t *testing.T) {
	all := loadPacks(t)
	results := runRuleTests(t)
	fires := map[string]bool{}
	nearMiss := map[string]bool{}
	packSize := map[string]int{} // test file → rules in its rule_files
	for _, r := range results {
		if !r.Passed() {
			continue // reported by TestRuleTests; a failing test covers nothing
		}
		n, ok := packSize[r.File]
		if !ok {
			n = len(loadRuleFiles(t, r.File))
			packSize[r.File] = n
		}
		restricted := len(r.Rules) < n
		for _, st := range r.Rules {
			if slices.Contains(r.Expected, st.Rule) {
				fires[st.Rule] = true
				continue
			}
			if st.Matched > 0 || (restricted && r.Events > 0 && firesOnEveryEvent(all[st.Rule])) {
				nearMiss[st.Rule] = true
			}
		}
	}
	for _, id := range sortedIDs(all) {
		if !fires[id] {
			t.Errorf("rule %q: no passing test expects an alert from it", id)
		}
		if !nearMiss[id] {
			if firesOnEveryEvent(all[id]) {
				t.Errorf("rule %q: no passing test restricted to it (rules: [...]) feeds it lookalike lines and expects no alert from it", id)
			} else {
				t.Errorf("rule %q: no passing near miss: a test in which it matches events and no alert of it is expected", id)
			}
		}
	}
}

// TestRuleMetadata checks what every alert carries to the person who gets
// it: a title, a description, the runbook and the seed requirement.
func TestRuleMetadata(t *testing.T) {
	requirement := regexp.MustCompile(`^(1[89]|2[0-4])\.[1-9]$`)
	all := loadPacks(t)
	for _, id := range sortedIDs(all) {
		r := all[id]
		if req := r.Labels["requirement"]; !requirement.MatchString(req) {
			t.Errorf("rule %q: labels.requirement = %q, want a seed requirement 18.1 … 24.6", id, req)
		}
		if r.Title == "" || r.Title == r.ID {
			t.Errorf("rule %q: title missing", id)
		}
		if r.Description == "" {
			t.Errorf("rule %q: description missing", id)
		}
		if want := "https://runbooks.example/secwatch/" + id; r.Runbook != want {
			t.Errorf("rule %q: runbook = %q, want %q", id, r.Runbook, want)
		}
		if pack := strings.TrimSuffix(filepath.Base(r.File), ".yaml"); !strings.HasPrefix(id, pack+"-") {
			t.Errorf("rule %q in %s: id should start with %q", id, r.File, pack+"-")
		}
	}
}

// TestMCPOneCopy checks the "one copy" condition of the mcp rules against
// what rule tests cannot feed: the CloudWatch source's @log_stream. Read from
// the log group, the bare stderr lines are the ECS streams' copies
// (mcp-server/mcp-server/<task>) of events whose record is the security or
// application stream's envelope; counting both would count every event
// twice.
func TestMCPOneCopy(t *testing.T) {
	const (
		corr = "3f2b9c1e-8d4a-4c6b-9e2f-7a1d5c3b9e04"
		sid  = "0cd627ee-2cc0-4246-9056-2e22a4c21a95"
	)
	consoleLine := func(msg string) string { return "2026-01-28 19:33:56,831 - SECURITY - WARNING - " + msg }
	appLine := func(logger, msg string) string {
		return "2026-01-28 19:33:56,831 - " + logger + " - WARNING - [" + corr + "] - " + msg
	}
	cases := []struct {
		rule, line, logger string
	}{
		{"mcp-auth-failure-burst-console", consoleLine("SECURITY EVENT [MEDIUM]: authentication_failure - Invalid API key (hash: afce3389)"), "security"},
		{"mcp-cors-violation", consoleLine("SECURITY EVENT [MEDIUM]: cors_violation - Request from non-allowed origin: https://evil.example.net"), "security"},
		{"mcp-request-sanitization", consoleLine("SECURITY EVENT [HIGH]: request_sanitization_failure - Request sanitization failed: Dangerous header not allowed: x-forwarded-host"), "security"},
		{"mcp-injection-attempt", consoleLine("SECURITY EVENT [HIGH]: injection_attempt - Injection attempt detected in tool 'check_tag_compliance', field 'tags'"), "security"},
		{"mcp-unknown-tool-rate-limit", consoleLine("SECURITY EVENT [HIGH]: rate_limit_exceeded - Session exceeded unknown tool attempt limit: 11/10"), "security"},
		{"mcp-loop-detected", appLine("mcp_server.utils.loop_detection", "Loop detected: {'event_type': 'loop_detected', 'session_id': '"+sid+"', 'tool_name': 'suggest_tags', 'call_count': 4, 'max_calls': 3}"), "mcp_server.utils.loop_detection"},
		{"mcp-budget-exhausted", appLine("mcp_server.middleware.budget_middleware", "Budget exhausted for session "+sid+": 100/100 calls used"), "mcp_server.middleware.budget_middleware"},
	}
	all := loadPacks(t)
	var covered []string
	for _, c := range cases {
		r := all[c.rule]
		if r == nil {
			t.Fatalf("rule %q: not in the packs", c.rule)
		}
		covered = append(covered, c.rule)
		envelope := fmt.Sprintf(`{"message": %q, "level": "WARNING", "logger": %q, "timestamp": 1769628836.831, "correlation_id": %q}`, c.line, c.logger, corr)
		for _, tc := range []struct {
			what, line, stream string
			want               bool
		}{
			{"stderr from a file", c.line, "", true},
			{"the ECS stream's copy", c.line, "mcp-server/mcp-server/6f1d0c2b9a8e4f3d", false},
			{"the security or application stream's envelope", envelope, "security", true},
			{"an envelope read from a file", envelope, "", true},
		} {
			ev := parseMCP(t, tc.line)
			if tc.stream != "" {
				ev.Add("@log_stream", tc.stream)
			}
			if got := r.Match.Eval(ev); got != tc.want {
				t.Errorf("rule %q, %s: match = %v, want %v\n  line: %s", c.rule, tc.what, got, tc.want, tc.line)
			}
		}
	}
	// Every rule that relies on @log_stream is listed above.
	for _, id := range sortedIDs(all) {
		if strings.Contains(rulefile.FormatMatch(all[id].Match), "@log_stream") && !slices.Contains(covered, id) {
			t.Errorf("rule %q: uses @log_stream but is not checked here", id)
		}
	}
}

func parseMCP(t *testing.T, line string) *event.Event {
	t.Helper()
	p, err := format.NewParser("mcp", format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	if err := p.Parse([]byte(line), &ev); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return &ev
}

// firesOnEveryEvent reports whether every event the rule counts makes it
// fire (outside its cooldown): a threshold rule with threshold 0.
func firesOnEveryEvent(r *rules.Rule) bool {
	return r != nil && r.Kind == rules.KindThreshold && r.Threshold == 0
}

func runRuleTests(t *testing.T) []ruletest.Result {
	t.Helper()
	results, err := ruletest.Run(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("no rule tests found")
	}
	return results
}

// loadPacks loads the shipped rule packs (every *.yaml here but the tests)
// by id.
func loadPacks(t *testing.T) map[string]*rules.Rule {
	t.Helper()
	rs, err := rulefile.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatal("no rules found")
	}
	byID := make(map[string]*rules.Rule, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	return byID
}

// loadRuleFiles loads the rules a test file evaluates.
func loadRuleFiles(t *testing.T, testFile string) []*rules.Rule {
	t.Helper()
	tf, err := ruletest.Decode(testFile)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range tf.RuleFiles {
		paths = append(paths, filepath.Join(filepath.Dir(testFile), p))
	}
	rs, err := rulefile.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func sortedIDs(m map[string]*rules.Rule) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
