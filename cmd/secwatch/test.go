package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/secwatch/secwatch/internal/ruletest"
)

func cmdTest(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("test", "[PATH...]",
		"Run rule tests: *_test.yaml files (directories are searched, default: rules). Each test replays\n"+
			"its input through its rule files and compares the alerts with the exact set it expects.", stderr)
	verbose := fs.Bool("v", false, "list passing tests too")
	junit := fs.String("junit", "", "also write a JUnit XML report to `file`, for CI")
	output := outputFlag(fs)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"rules"}
	}
	results, err := ruletest.Run(paths...)
	rep := newTestReport(results, err)
	if output.json() {
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		rep.writeText(stdout, *verbose)
	}
	if err != nil && !output.json() {
		fmt.Fprintln(stderr, err)
	}
	if *junit != "" {
		if err := writeJUnit(*junit, rep); err != nil {
			fmt.Fprintf(stderr, "secwatch: %v\n", err)
			return exitFailed
		}
	}
	if rep.Failed > 0 || rep.Passed == 0 {
		if len(results) == 0 && err == nil {
			fmt.Fprintln(stderr, "secwatch: no rule tests found")
		}
		return exitFailed
	}
	return exitOK
}

// testReport is the outcome of a test run, and its JSON form.
type testReport struct {
	Passed int          `json:"passed"`
	Failed int          `json:"failed"` // failed tests, plus 1 when files could not be loaded
	Tests  []testResult `json:"tests"`
	// Errors are the problems of test files that could not be read or
	// decoded, one per line of the loader's report.
	Errors []string `json:"errors"`
}

type testResult struct {
	File       string   `json:"file"`
	Line       int      `json:"line"`
	Name       string   `json:"name"`
	Passed     bool     `json:"passed"`
	Error      string   `json:"error,omitempty"`
	Missing    []string `json:"missing"`
	Unexpected []string `json:"unexpected"`
	Events     int64    `json:"events"`
	Alerts     int      `json:"alerts"`
}

func newTestReport(results []ruletest.Result, err error) *testReport {
	rep := &testReport{Tests: []testResult{}, Errors: []string{}}
	for _, r := range results {
		tr := testResult{File: r.File, Line: r.Line, Name: r.Name, Passed: r.Passed(),
			Missing: nonNil(r.Missing), Unexpected: nonNil(r.Unexpected), Events: r.Events, Alerts: r.Alerts}
		if r.Err != nil {
			tr.Error = r.Err.Error()
		}
		if tr.Passed {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Tests = append(rep.Tests, tr)
	}
	if err != nil {
		rep.Failed++
		rep.Errors = strings.Split(err.Error(), "\n")
	}
	return rep
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (rep *testReport) writeText(w io.Writer, verbose bool) {
	for _, r := range rep.Tests {
		if r.Passed {
			if verbose {
				fmt.Fprintf(w, "ok    %s:%d: %s (%d events, %d alerts)\n", r.File, r.Line, r.Name, r.Events, r.Alerts)
			}
			continue
		}
		fmt.Fprintf(w, "FAIL  %s:%d: %s\n", r.File, r.Line, r.Name)
		if r.Error != "" {
			fmt.Fprintf(w, "      error: %s\n", r.Error)
		}
		for _, m := range r.Missing {
			fmt.Fprintf(w, "      missing:    %s\n", m)
		}
		for _, u := range r.Unexpected {
			fmt.Fprintf(w, "      unexpected: %s\n", u)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", rep.Passed, rep.Failed)
}

// JUnit XML, as CI systems read it: one suite per test file.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func (rep *testReport) junit() junitSuites {
	var js junitSuites
	index := map[string]int{}
	add := func(suite string, c junitCase) {
		i, ok := index[suite]
		if !ok {
			i = len(js.Suites)
			index[suite] = i
			js.Suites = append(js.Suites, junitSuite{Name: suite})
		}
		s := &js.Suites[i]
		s.Tests++
		js.Tests++
		if c.Failure != nil {
			s.Failures++
			js.Failures++
		}
		if c.Error != nil {
			s.Errors++
			js.Errors++
		}
		s.Cases = append(s.Cases, c)
	}
	for _, r := range rep.Tests {
		c := junitCase{Name: r.Name, Classname: r.File, File: r.File, Line: r.Line}
		switch {
		case r.Error != "":
			c.Error = &junitProblem{Message: r.Error, Text: r.Error}
		case !r.Passed:
			var b strings.Builder
			for _, m := range r.Missing {
				fmt.Fprintf(&b, "missing:    %s\n", m)
			}
			for _, u := range r.Unexpected {
				fmt.Fprintf(&b, "unexpected: %s\n", u)
			}
			c.Failure = &junitProblem{Message: fmt.Sprintf("%d missing, %d unexpected alerts", len(r.Missing), len(r.Unexpected)), Text: b.String()}
		}
		add(r.File, c)
	}
	if len(rep.Errors) > 0 {
		msg := strings.Join(rep.Errors, "\n")
		add("secwatch", junitCase{Name: "load test files", Classname: "secwatch", Error: &junitProblem{Message: rep.Errors[0], Text: msg}})
	}
	return js
}

func writeJUnit(path string, rep *testReport) error {
	b, err := xml.MarshalIndent(rep.junit(), "", "  ")
	if err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if err := os.WriteFile(filepath.Clean(path), b, 0o644); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	return nil
}
