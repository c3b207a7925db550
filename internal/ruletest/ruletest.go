// Package ruletest runs rule unit tests (docs/rules.md, "Testing rules"):
// YAML files that feed raw recorded lines through a parser and the engine
// and compare the alerts with the exact set expected, in the spirit of
// promtool test rules. A test file's problems are reported like a rule
// file's (internal/yamldiag), all at once, with positions.
//
// It sits above ingest and rules (it needs both a parser and the engine) and
// below cmd; nothing but cmd and tests import it.
package ruletest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rules"
)

// File is one rule test file.
type File struct {
	// RuleFiles are rule files or directories, relative to the test file.
	RuleFiles []string
	// MaxKeys overrides the engine's per-rule group cap (0: default).
	MaxKeys int
	Tests   []Case

	rules   []*rules.Rule // loaded from RuleFiles by Decode
	loadErr error         // the problems of RuleFiles, reported by each test
}

// Case is one test.
type Case struct {
	Name string
	// Format of the input lines (default json); TimeField and Pattern as
	// for a source.
	Format     string
	TimeField  string
	TimeFormat string
	TimeZone   string
	Pattern    string
	// InputMtime is the modification time the input is taken to have:
	// times written without a year get theirs from it, as in replay.
	// Zero means the time the test runs.
	InputMtime time.Time
	// Rules, when set, restricts the test to these rule ids; otherwise
	// every rule of RuleFiles is evaluated and every alert must be expected.
	Rules []string
	// Input holds raw lines; InputFile names a file relative to the test
	// file instead.
	Input     string
	InputFile string
	// Expect is the exact set of alerts; an empty list means none fires.
	Expect *[]Expect

	line int
}

// Expect is one expected alert. Rule and Group identify it (an omitted
// group is the global group of a rule without group_by); Time and Count are
// compared when given.
type Expect struct {
	Rule      string
	Group     map[string]string
	Time      string
	Count     *int
	FirstSeen string
}

// Result is the outcome of one test.
type Result struct {
	File string
	Line int
	Name string
	// Err is set when the test could not run (bad rules, unreadable or
	// unparseable input).
	Err        error
	Missing    []string // expected alerts that did not fire
	Unexpected []string // alerts that fired but were not expected
	Alerts     int      // alerts that fired
	Events     int64    // events replayed
	// Rules are the engine's counters per rule at the end of the test
	// (matched, alerts, late, …), for coverage checks.
	Rules []rules.RuleStats
	// Expected holds the rule ids the test expects alerts from.
	Expected []string
}

// Passed reports whether the test ran and its alerts were exactly those
// expected.
func (r Result) Passed() bool {
	return r.Err == nil && len(r.Missing) == 0 && len(r.Unexpected) == 0
}

// Discover expands paths into test files: a directory contributes its
// *_test.yaml and *_test.yml files (sorted, not recursive).
func Discover(paths ...string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		for _, pat := range []string{"*_test.yaml", "*_test.yml"} {
			m, err := filepath.Glob(filepath.Join(p, pat))
			if err != nil {
				return nil, err
			}
			files = append(files, m...)
		}
	}
	sort.Strings(files)
	return files, nil
}

// Run runs every test of the given files and directories. The error reports
// files that could not be read or decoded; their tests do not run.
func Run(paths ...string) ([]Result, error) {
	files, err := Discover(paths...)
	if err != nil {
		return nil, err
	}
	var results []Result
	var errs []error
	for _, f := range files {
		rs, err := RunFile(f)
		if err != nil {
			errs = append(errs, err)
		}
		results = append(results, rs...)
	}
	return results, errors.Join(errs...)
}

// RunFile runs the tests of one file.
func RunFile(path string) ([]Result, error) {
	tf, err := Decode(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	all, loadErr := tf.rules, tf.loadErr
	var results []Result
	for _, c := range tf.Tests {
		res := Result{File: path, Line: c.line, Name: c.Name}
		if loadErr != nil {
			res.Err = loadErr
		} else {
			runCase(&res, dir, tf.MaxKeys, all, c)
		}
		results = append(results, res)
	}
	return results, nil
}

func runCase(res *Result, dir string, maxKeys int, all []*rules.Rule, c Case) {
	rs := all
	if len(c.Rules) > 0 {
		byID := map[string]*rules.Rule{}
		for _, r := range all {
			byID[r.ID] = r
		}
		rs = nil
		for _, id := range c.Rules {
			r, ok := byID[id]
			if !ok {
				res.Err = fmt.Errorf("rules: no rule %q in rule_files", id)
				return
			}
			rs = append(rs, r)
		}
	}
	var input []byte
	name := "input"
	if c.InputFile != "" {
		name = filepath.Join(dir, c.InputFile)
		b, err := os.ReadFile(name)
		if err != nil {
			res.Err = err
			return
		}
		input = b
	} else {
		input = []byte(c.Input)
	}
	fmtName := c.Format
	if fmtName == "" {
		fmtName = "json"
	}
	opts := c.parserOptions()
	if _, err := format.NewParser(fmtName, opts); err != nil {
		res.Err = err
		return
	}
	engine := rules.NewEngine(rs)
	engine.MaxKeys = maxKeys
	var got []rules.Alert
	var bad []string
	dec := ingest.Decoding{
		Source:    "test",
		NewParser: func() (format.Parser, error) { return format.NewParser(fmtName, opts) },
		MaxFuture: ingest.MaxFuture,
		Bad: func(pos ingest.Position, reason string) {
			bad = append(bad, fmt.Sprintf("%s: %s", pos, reason))
		},
	}
	stats, err := ingest.Replay([]ingest.Input{{Name: name, R: bytes.NewReader(input)}}, dec,
		func(ev *event.Event) error {
			got = append(got, engine.Observe(ev)...)
			return nil
		})
	res.Events = stats.Events.Load()
	if err != nil {
		res.Err = err
		return
	}
	if len(bad) > 0 {
		// A rule test's input is written by hand: a line the parser
		// rejects is a mistake in the test, not data to skip.
		res.Err = fmt.Errorf("input lines rejected:\n  %s", strings.Join(bad, "\n  "))
		return
	}
	res.Alerts = len(got)
	res.Rules = engine.Stats()
	for _, e := range *c.Expect {
		res.Expected = append(res.Expected, e.Rule)
	}
	res.Missing, res.Unexpected = compare(*c.Expect, got)
}

// compare matches expectations with alerts one to one.
func compare(expect []Expect, got []rules.Alert) (missing, unexpected []string) {
	used := make([]bool, len(got))
	for _, e := range expect {
		found := false
		for i := range got {
			if !used[i] && matches(e, &got[i]) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, describeExpect(e))
		}
	}
	for i := range got {
		if !used[i] {
			unexpected = append(unexpected, Describe(&got[i]))
		}
	}
	return missing, unexpected
}

func matches(e Expect, a *rules.Alert) bool {
	if e.Rule != a.Rule.ID || len(e.Group) != len(a.Group) {
		return false
	}
	for _, f := range a.Group {
		if v, ok := e.Group[f.Key]; !ok || v != f.Value {
			return false
		}
	}
	if !sameTime(e.Time, a.Time) || !sameTime(e.FirstSeen, a.FirstSeen) {
		return false
	}
	return e.Count == nil || *e.Count == a.Count
}

// Describe renders an alert in the expect syntax, so a reader can paste it.
func Describe(a *rules.Alert) string {
	g := make(map[string]string, len(a.Group))
	for _, f := range a.Group {
		g[f.Key] = f.Value
	}
	c := a.Count
	return describeExpect(Expect{Rule: a.Rule.ID, Group: g, Time: event.FormatTime(a.Time), Count: &c,
		FirstSeen: event.FormatTime(a.FirstSeen)})
}

func describeExpect(e Expect) string {
	var b strings.Builder
	b.WriteString("{rule: " + e.Rule)
	if len(e.Group) > 0 {
		keys := make([]string, 0, len(e.Group))
		for k := range e.Group {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(", group: {")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + ": " + strconv.Quote(e.Group[k]))
		}
		b.WriteString("}")
	}
	if e.Time != "" {
		b.WriteString(`, time: "` + e.Time + `"`)
	}
	if e.Count != nil {
		fmt.Fprintf(&b, ", count: %d", *e.Count)
	}
	if e.FirstSeen != "" {
		b.WriteString(`, first_seen: "` + e.FirstSeen + `"`)
	}
	b.WriteString("}")
	return b.String()
}

// sameTime reports whether the expected time s ("" when not given) is t.
func sameTime(s string, t time.Time) bool {
	if s == "" {
		return true
	}
	want, _ := event.ParseTime(s)
	return want.Equal(t)
}

// parserOptions are the format options of the case's input.
func (c Case) parserOptions() format.Options {
	return format.Options{TimeField: c.TimeField, Pattern: c.Pattern, TimeFormat: c.TimeFormat,
		TimeZone: c.TimeZone, Reference: c.InputMtime}
}
