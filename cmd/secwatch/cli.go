package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes, as the usage text states them.
const (
	exitOK     = 0
	exitFailed = 1 // invalid input, failed checks or tests
	exitUsage  = 2
	// exitBlind: run --once did not complete the read of every source.
	exitBlind = 3
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
		{"silence", "add, list or expire silences that mute matching alerts (kept, not sent)", cmdSilence},
		{"outbox", "list, show, redrive or drop pending, dead-lettered and silenced alerts", cmdOutbox},
		{"healthcheck", "ask the running daemon's /healthz; exit 0 when healthy, 1 otherwise", cmdHealthcheck},
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
	case "help":
		if len(args) > 1 {
			// help CMD [SUB] is CMD [SUB] --help: its own usage, to stdout.
			return run(ctx, append(args[1:min(len(args), 3):min(len(args), 3)], "--help"), stdin, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	case "-h", "-help", "--help":
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
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'secwatch help <command>' for a command's flags. Flags may come before or after")
	fmt.Fprintln(w, "file names; after -- every argument is a file name.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 invalid input or failed checks/tests, 2 usage error,")
	fmt.Fprintln(w, "3 (run --once) a source did not complete its read.")
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

// parseFlags parses args, flags and operands in any order (after "--"
// everything is an operand), leaving the operands in fs.Args(). It returns
// (code, false) when the command should exit now (help or a usage error).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	// What Parse prints (the error and the usage) is held back: --help
	// goes to stdout once, a usage error to stderr.
	stderr := fs.Output()
	var held bytes.Buffer
	fs.SetOutput(&held)
	err := parseInterleaved(fs, args)
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

// parseInterleaved is fs.Parse for flags mixed with operands: the standard
// parser stops at the first operand, so parsing resumes after each one.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			operands = append(operands, rest...)
			break
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
	// Leave the operands in fs.Args(): after "--" nothing is a flag.
	return fs.Parse(append([]string{"--"}, operands...))
}

// output is the value of --output: "text", "json", or "" when not given.
type output string

func (o *output) String() string { return string(*o) }

func (o *output) Set(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("must be text or json, got %q", v)
	}
	*o = output(v)
	return nil
}

// json reports whether JSON was asked for.
func (o *output) json() bool { return *o == "json" }

// outputFlag registers --output on fs and returns its value: "" unless
// given, which a command reads as text unless its help says otherwise.
func outputFlag(fs *flag.FlagSet) *output {
	o := new(output)
	fs.Var(o, "output", "result `format`: text or json (default text)")
	return o
}

// outputAlias registers --output on a command whose JSON switch is the older
// --json, held in asJSON: --output json sets it, --output text clears it.
func outputAlias(fs *flag.FlagSet, asJSON *bool) {
	fs.Var(jsonOutput{asJSON}, "output", "result `format`: text or json (--json is --output json)")
}

type jsonOutput struct{ asJSON *bool }

func (j jsonOutput) String() string {
	if j.asJSON != nil && *j.asJSON {
		return "json"
	}
	return "text"
}

func (j jsonOutput) Set(v string) error {
	var o output
	if err := o.Set(v); err != nil {
		return err
	}
	*j.asJSON = o.json()
	return nil
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
