package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes (design section 6).
const (
	exitOK     = 0
	exitFailed = 1 // invalid input, failed checks or tests
	exitUsage  = 2
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run the daemon (or one pass with --once)", cmdRun},
		{"replay", "replay recorded logs through the rules and print the alerts", cmdReplay},
		{"check", "validate rule files; exit 1 on any problem", cmdCheck},
		{"test", "run rule tests (*_test.yaml); exit 1 on any failure", cmdTest},
		{"explain", "show, per event, which rules matched and why they fired or not", cmdExplain},
		{"alarms", "plan, apply or audit the CloudWatch alarms derived from the rules", cmdAlarms},
		{"sigma", "convert Sigma rules into native rules (sigma convert FILE|DIR...)", cmdSigma},
		{"probe", "check a service's TLS, plaintext, auth, CORS and OAuth metadata; exit 1 on any failure", cmdProbe},
		{"version", "print the version", cmdVersion},
	}
}

// run executes one secwatch command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return cmdVersion(ctx, nil, stdin, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "secwatch: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "secwatch: security monitoring and alerting for HTTP services behind AWS load balancers")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: secwatch <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'secwatch <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 invalid input or failed checks/tests, 2 usage error.")
}

// newFlags returns a flag set that reports errors instead of exiting, with
// a usage message naming the command's arguments.
func newFlags(name, args, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: secwatch %s [flags] %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns (code, false) when the command should
// exit now (help or a usage error).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	// What Parse prints (the error and the usage) is held back: --help
	// goes to stdout once, a usage error to stderr.
	stderr := fs.Output()
	var held bytes.Buffer
	fs.SetOutput(&held)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(stderr)
		return exitOK, false
	}
	if err != nil {
		stderr.Write(held.Bytes())
		return exitUsage, false
	}
	return 0, true
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
