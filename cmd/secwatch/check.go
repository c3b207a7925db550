package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/rulefile"
)

func cmdCheck(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("check", "[PATH...]",
		"Validate a configuration file and rule files and directories (default: the config's rules,\n"+
			"or rules). Every problem is printed at once, one per line, as file:line:col: key: problem;\n"+
			"the exit code is 1 if there is any.", stderr)
	cfgPath := fs.String("config", "", "configuration `file` to validate too")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	paths := fs.Args()
	failed := false
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
		} else {
			fmt.Fprintf(stdout, "ok: %s\n", *cfgPath)
			if len(paths) == 0 {
				paths = cfg.Rules
			}
		}
	}
	if failed && len(paths) == 0 {
		// The rules to check are the ones the broken configuration
		// names; checking the default directory instead would say "ok"
		// about files the daemon may never load.
		fmt.Fprintln(stderr, "rules not checked: fix the configuration, or name the rule files")
		return exitFailed
	}
	if len(paths) == 0 {
		paths = []string{"rules"}
	}
	rs, err := rulefile.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "ok: %d rules\n", len(rs))
	failed = lintRuleFields(stderr, *cfgPath, rs) || failed
	if failed {
		return exitFailed
	}
	return exitOK
}
