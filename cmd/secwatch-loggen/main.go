// Command secwatch-loggen writes deterministic synthetic security logs and
// the truth a correct monitor must find in them (see internal/loggen). It
// makes the recorded logs in testdata/logs and the benchmark corpus.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/secwatch/secwatch/internal/loggen"
)

const usage = `usage: secwatch-loggen [flags]

Writes a synthetic log (the same flags always give the same bytes) and,
with -truth, what a correct monitor must find in it: the attackers that must
alert under "more than 10 authentication failures within 5m", the near misses
with exactly 10 that must not, and more (see testdata/logs/README.md).

Formats:
  json            structured SecurityEvent JSON, one per line, true client IPs
  mcp-text        the MCP server's console: app, SECURITY and uvicorn lines
  mcp-cloudwatch  the server's CloudWatch JSON envelopes (security + application)
  alb             AWS ALB access log lines

Example:
  secwatch-loggen -format json -events 1000000 -ips 50000 -out corpus.jsonl -truth corpus.truth.json

Flags:
`

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "secwatch-loggen:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "secwatch-loggen:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("secwatch-loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		cfg      loggen.Config
		start    string
		out      = fs.String("out", "-", "write the log to `FILE` (- = stdout)")
		truth    = fs.String("truth", "", "write the truth as JSON to `FILE`")
		doFollow = fs.Bool("follow", false, "append traffic to -out forever, each line when the (sped-up) clock reaches its time; for demos")
		speed    = fs.Float64("speed", 10, "with -follow: how much faster than the wall clock generated time runs")
	)
	fs.StringVar(&cfg.Format, "format", "json", "log `format`: "+strings.Join(loggen.Formats, ", "))
	fs.Int64Var(&cfg.Seed, "seed", 1, "random `seed`; the same flags and seed give the same bytes")
	fs.StringVar(&start, "start", loggen.DefaultStart.Format(time.RFC3339), "`time` of the first event (RFC 3339)")
	fs.DurationVar(&cfg.Duration, "duration", 24*time.Hour, "time `span` the events cover (at least 30m)")
	fs.IntVar(&cfg.Events, "events", 10000, "`number` of logical events (json: lines; alb: requests)")
	fs.IntVar(&cfg.ClientIPs, "ips", 0, "`number` of distinct client IPs (default events/20, at least 20)")
	fs.Float64Var(&cfg.AttackerFraction, "attackers", 0.05, "`fraction` of client IPs that burst >10 failures in 5m (negative: none)")
	fs.IntVar(&cfg.NearMisses, "near-misses", 0, "`number` of near misses with exactly 10 failures in 5m (default ips/200, at least 1; negative: none)")
	fs.Float64Var(&cfg.LateFraction, "late", 0.002, "`fraction` of events written 1s..max-late after their time (negative: none)")
	fs.DurationVar(&cfg.MaxLate, "max-late", 5*time.Second, "how late an out-of-order event may be written (1s..1m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return usageError{fmt.Errorf("-start: want RFC 3339, got %q", start)}
	}
	cfg.Start = t
	if !slices.Contains(loggen.Formats, cfg.Format) {
		return usageError{fmt.Errorf("-format: want one of %s, got %q", strings.Join(loggen.Formats, ", "), cfg.Format)}
	}

	if *doFollow {
		if *out == "-" {
			return usageError{fmt.Errorf("-follow needs -out FILE")}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return follow(ctx, *out, cfg, *speed)
	}
	w, closeOut := stdout, func() error { return nil }
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		w, closeOut = f, f.Close
	}
	tr, err := loggen.Generate(w, cfg)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *truth == "" {
		return nil
	}
	f, err := os.Create(*truth)
	if err != nil {
		return err
	}
	err = loggen.WriteTruth(f, tr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
