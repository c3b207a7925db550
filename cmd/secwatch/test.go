package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secwatch/secwatch/internal/ruletest"
)

func cmdTest(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("test", "[PATH...]",
		"Run rule tests: *_test.yaml files (directories are searched, default: rules). Each test replays\n"+
			"its input through its rule files and compares the alerts with the exact set it expects.", stderr)
	verbose := fs.Bool("v", false, "list passing tests too")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"rules"}
	}
	results, err := ruletest.Run(paths...)
	passed, failed := 0, 0
	for _, r := range results {
		if r.Passed() {
			passed++
			if *verbose {
				fmt.Fprintf(stdout, "ok    %s:%d: %s (%d events, %d alerts)\n", r.File, r.Line, r.Name, r.Events, r.Alerts)
			}
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL  %s:%d: %s\n", r.File, r.Line, r.Name)
		if r.Err != nil {
			fmt.Fprintf(stdout, "      error: %v\n", r.Err)
		}
		for _, m := range r.Missing {
			fmt.Fprintf(stdout, "      missing:    %s\n", m)
		}
		for _, u := range r.Unexpected {
			fmt.Fprintf(stdout, "      unexpected: %s\n", u)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		failed++
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 && err == nil && len(results) == 0 {
		if len(results) == 0 && err == nil {
			fmt.Fprintln(stderr, "secwatch: no rule tests found")
		}
		return exitFailed
	}
	return exitOK
}
