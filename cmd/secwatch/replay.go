package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// replayFlags are the flags replay and explain share.
type replayFlags struct {
	rules      listFlag
	format     string
	timeField  string
	timeFormat string
	timeZone   string
	pattern    string
	source     string
	maxKeys    int
	maxLine    int
	lateness   time.Duration
	maxFuture  time.Duration
}

func (f *replayFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.rules, "rules", "rule `path` (file or directory; repeatable, comma-separated) (default \"rules\")")
	fs.StringVar(&f.format, "format", "json", "input `format`: "+strings.Join(format.Formats, ", "))
	fs.StringVar(&f.timeField, "time-field", "", "`field` holding the event time (json, logfmt, regex); default: the first of "+strings.Join(event.TimeFields, ", "))
	fs.StringVar(&f.timeFormat, "time-format", "", "how the time field is written (json, logfmt, regex): a strftime `form` like '%d/%b/%Y:%H:%M:%S %z', a Go layout, or "+strings.Join(format.TimeFormats, ", ")+"; a time without a year takes its year from the newest input file's modification time")
	fs.StringVar(&f.timeZone, "time-zone", "", "`zone` of times written without one (json, logfmt, regex, syslog): an IANA name, UTC or Local (default UTC)")
	fs.StringVar(&f.pattern, "pattern", "", "RE2 `pattern` with named groups, for --format regex (or syslog: applied to the message)")
	fs.StringVar(&f.source, "source", "replay", "source `name` recorded in events and alerts")
	fs.IntVar(&f.maxKeys, "max-keys", rules.DefaultMaxKeys, "groups kept per rule; the least recently used is evicted beyond it")
	fs.IntVar(&f.maxLine, "max-line-bytes", 1<<20, "longer lines are skipped and counted")
	fs.DurationVar(&f.lateness, "max-lateness", rules.DefaultMaxLateness, "how far behind the newest event time an event may arrive and still be judged exactly")
	fs.DurationVar(&f.maxFuture, "max-future", ingest.MaxFuture, "events stamped further ahead of the clock are rejected and counted (engine.max_future); 0 accepts any time")
}

// pipeline holds what a replay needs once flags are validated.
type pipeline struct {
	flags     replayFlags
	rules     []*rules.Rule
	opts      format.Options
	newParser func() (format.Parser, error)
	inputs    []ingest.Input
	closers   []io.Closer
}

func (p *pipeline) close() {
	for _, c := range p.closers {
		c.Close()
	}
}

// setup loads rules and opens inputs; it reports problems to stderr and
// returns an exit code when it fails.
func (f *replayFlags) setup(files []string, stdin io.Reader, stderr io.Writer) (*pipeline, int) {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "secwatch: no input files (use - for standard input)")
		return nil, exitUsage
	}
	paths := f.rules
	if len(paths) == 0 {
		paths = listFlag{"rules"}
	}
	rs, err := rulefile.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, exitFailed
	}
	opts := format.Options{TimeField: f.timeField, Pattern: f.pattern, TimeFormat: f.timeFormat, TimeZone: f.timeZone}
	if _, err := format.NewParser(f.format, opts); err != nil {
		fmt.Fprintf(stderr, "secwatch: %v\n", err)
		return nil, exitUsage
	}
	p := &pipeline{flags: *f, rules: rs}
	for _, name := range files {
		if name == "-" {
			p.inputs = append(p.inputs, ingest.Input{Name: "-", R: stdin})
			continue
		}
		fh, err := os.Open(name)
		if err != nil {
			p.close()
			fmt.Fprintf(stderr, "secwatch: %v\n", err)
			return nil, exitFailed
		}
		p.closers = append(p.closers, fh)
		p.inputs = append(p.inputs, ingest.Input{Name: name, R: fh})
		// Times without a year are dated from when the log was last
		// written, as the daemon dates them from when it reads them.
		if st, err := fh.Stat(); err == nil && st.ModTime().After(opts.Reference) {
			opts.Reference = st.ModTime()
		}
	}
	p.opts = opts
	p.newParser = func() (format.Parser, error) { return format.NewParser(f.format, opts) }
	return p, exitOK
}

// decoding is how the inputs become events; bad receives rejected lines.
func (p *pipeline) decoding(bad *badLines) ingest.Decoding {
	return ingest.Decoding{Source: p.flags.source, NewParser: p.newParser, MaxLineBytes: p.flags.maxLine,
		MaxFuture: p.flags.maxFuture, Bad: bad.report}
}

func (p *pipeline) engine() *rules.Engine {
	e := rules.NewEngine(p.rules)
	e.MaxKeys = p.flags.maxKeys
	e.MaxLateness = p.flags.lateness
	return e
}

// badLines reports rejected lines to w, the first few in full and then a
// count, so a broken file cannot flood the terminal.
type badLines struct {
	w     io.Writer
	shown int
	total int64
}

const maxBadShown = 10

func (b *badLines) report(pos ingest.Position, reason string) {
	b.total++
	if b.shown < maxBadShown {
		b.shown++
		fmt.Fprintf(b.w, "%s: %s\n", pos, reason)
	}
}

func (b *badLines) close() {
	if b.total > int64(b.shown) {
		fmt.Fprintf(b.w, "… and %d more rejected lines\n", b.total-int64(b.shown))
	}
}

func cmdReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("replay", "FILE... (- for standard input)",
		"Replay recorded logs through the rules and write one alert document per line to stdout,\n"+
			"in the order the alerts fire; a summary goes to stderr. Several files are merged by time.", stderr)
	var f replayFlags
	f.register(fs)
	output := outputFlag(fs)
	strict := fs.Bool("strict", false, "exit 1 when any input line is rejected")
	fs.Lookup("output").Usage = "alert `format`: text or json (default: text on a terminal, json otherwise)"
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *output == "" {
		*output = "json"
		if isTerminal(stdout) {
			*output = "text"
		}
	}
	p, code := f.setup(fs.Args(), stdin, stderr)
	if p == nil {
		return code
	}
	defer p.close()

	var events atomic.Int64
	prog := startProgress(isTerminal(stderr), stderr, &events)
	var w io.Writer = stdout
	if isTerminal(stdout) {
		w = prog.before(stdout) // the same terminal, most likely
	}
	out := bufio.NewWriterSize(w, 64<<10)
	engine := p.engine()
	fast := p.useFastPath(engine)
	var alerts int64
	// Alert documents are rendered and written on a goroutine of their own,
	// in the order the engine raised them: an alert carries copies of all
	// it shows (rules.Alert), and rendering (redaction, JSON) would
	// otherwise add to the engine's time.
	aw := startAlertWriter(out, *output == "text")
	bad := &badLines{w: prog.before(stderr)}
	stats, err := ingest.ReplayLines(p.inputs, p.decoding(bad),
		func(ev *event.Event, line []byte) error {
			events.Add(1)
			fast.setLine(line)
			if as := engine.Observe(ev); len(as) > 0 {
				alerts += int64(len(as))
				if werr := aw.write(as); werr != nil {
					return werr
				}
			}
			return ctx.Err()
		})
	if werr := aw.close(); err == nil {
		err = werr
	}
	prog.stop()
	bad.close()
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	summary(stderr, stats, engine.Stats(), alerts)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch: replay: %v\n", err)
		return exitFailed
	}
	if *strict && bad.total > 0 {
		return exitFailed
	}
	return exitOK
}

// alertWriter renders and writes alert documents on a goroutine of its own.
type alertWriter struct {
	ch     chan []rules.Alert
	done   chan struct{}
	failed atomic.Bool
	err    error // the first write error; read once failed is set, or after done
}

func startAlertWriter(out io.Writer, text bool) *alertWriter {
	w := &alertWriter{ch: make(chan []rules.Alert, 256), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for as := range w.ch {
			if w.err != nil {
				continue // drain, so that the engine never blocks
			}
			for i := range as {
				var err error
				if text {
					_, err = fmt.Fprintln(out, alertText(&as[i]))
				} else {
					err = alerting.WriteJSON(out, &as[i])
				}
				if err != nil {
					w.err = err
					w.failed.Store(true)
					break
				}
			}
		}
	}()
	return w
}

// write queues alerts and returns the writer's error once it failed.
func (w *alertWriter) write(as []rules.Alert) error {
	w.ch <- as
	if w.failed.Load() {
		return w.err
	}
	return nil
}

// close waits for every queued alert to be written and returns the first
// write error.
func (w *alertWriter) close() error {
	close(w.ch)
	<-w.done
	return w.err
}

// alertText is the one-line text rendering of an alert, the one the
// daemon's stdout notifier writes on a terminal.
func alertText(a *rules.Alert) string {
	doc := alerting.NewDocument(a)
	return alerting.DocumentText(&doc)
}

func summary(w io.Writer, s *ingest.SourceStats, rs []rules.RuleStats, alerts int64) {
	malformed, oversize, invalid := s.Malformed.Load(), s.Oversize.Load(), s.InvalidUTF8.Load()
	fmt.Fprintf(w, "lines %d, events %d (unparsed %d), rejected %d (malformed %d, oversize %d, invalid utf-8 %d), alerts %d\n",
		s.Lines.Load(), s.Events.Load(), s.Unparsed.Load(), malformed+oversize+invalid, malformed, oversize, invalid, alerts)
	for _, r := range rs {
		fmt.Fprintf(w, "  %-40s matched %d, alerts %d, late %d, ungrouped %d, evicted %d\n",
			r.Rule, r.Matched, r.Alerts, r.Late, r.Ungrouped, r.Evicted)
	}
}
