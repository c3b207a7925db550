package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// checkReport is check's result in JSON (--output json).
type checkReport struct {
	OK       bool      `json:"ok"`
	Config   string    `json:"config,omitempty"`
	Rules    int       `json:"rules"` // loaded; 0 when any rule file has a problem
	Problems []problem `json:"problems"`
	// Warnings do not fail the check: self-alerts no notifier takes.
	Warnings []string `json:"warnings,omitempty"`
}

type problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"` // as in text: "file:line:col: key: problem"
}

func (r *checkReport) add(err error) {
	var l yamldiag.ErrorList
	if !errors.As(err, &l) {
		r.Problems = append(r.Problems, problem{Message: err.Error()})
		return
	}
	for _, e := range l {
		r.Problems = append(r.Problems, problem{File: e.File, Line: e.Line, Col: e.Col, Message: e.Error()})
	}
}

func cmdCheck(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("check", "[PATH...]",
		"Validate a configuration file and rule files and directories (default: the config's rules,\n"+
			"or rules). Every problem is printed at once, one per line, as file:line:col: key: problem;\n"+
			"the exit code is 1 if there is any. With --config it also warns (exit 0) when no notifier's\n"+
			"match takes secwatch's self-alerts (secwatch-source-down and the like). With --output json,\n"+
			"one JSON object says it all.", stderr)
	cfgPath := fs.String("config", "", "configuration `file` to validate too")
	output := outputFlag(fs)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	rep := checkReport{Config: *cfgPath, Problems: []problem{}}
	code := check(&rep, fs.Args(), stdout, stderr, !output.json())
	if output.json() {
		rep.OK = code == exitOK
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return code
}

// check fills rep, printing as it goes when text is set.
func check(rep *checkReport, paths []string, stdout, stderr io.Writer, text bool) int {
	if !text {
		stdout, stderr = io.Discard, io.Discard
	}
	failed := false
	if rep.Config != "" {
		cfg, err := config.Load(rep.Config)
		if err != nil {
			fmt.Fprintln(stderr, err)
			rep.add(err)
			failed = true
		} else {
			fmt.Fprintf(stdout, "ok: %s\n", rep.Config)
			for _, w := range unroutedSelfAlerts(cfg) {
				fmt.Fprintf(stderr, "warning: %s\n", w)
				rep.Warnings = append(rep.Warnings, w)
			}
			if len(paths) == 0 {
				paths = cfg.Rules
			}
		}
	}
	if failed && len(paths) == 0 {
		// The rules to check are the ones the broken configuration
		// names; checking the default directory instead would say "ok"
		// about files the daemon may never load.
		const msg = "rules not checked: fix the configuration, or name the rule files"
		fmt.Fprintln(stderr, msg)
		rep.Problems = append(rep.Problems, problem{Message: msg})
		return exitFailed
	}
	if len(paths) == 0 {
		paths = []string{"rules"}
	}
	rs, err := rulefile.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		rep.add(err)
		return exitFailed
	}
	rep.Rules = len(rs)
	fmt.Fprintf(stdout, "ok: %d rules\n", len(rs))
	var lint strings.Builder
	if lintRuleFields(&lint, rep.Config, rs) {
		failed = true
		fmt.Fprint(stderr, lint.String())
		for _, l := range strings.Split(strings.TrimSpace(lint.String()), "\n") {
			rep.Problems = append(rep.Problems, problem{Message: l})
		}
	}
	if failed {
		return exitFailed
	}
	return exitOK
}
