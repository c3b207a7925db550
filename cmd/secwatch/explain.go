package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
)

func cmdExplain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("explain", "FILE...",
		"For each event, show which rules matched, the group key, the count in the window and why the\n"+
			"rule fired or not. Events that match no rule are listed only with --all.", stderr)
	var f replayFlags
	f.register(fs)
	all := fs.Bool("all", false, "also list events that match no rule")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	p, code := f.setup(fs.Args(), stdin, stderr)
	if p == nil {
		return code
	}
	defer p.close()
	out := bufio.NewWriter(stdout)
	engine := p.engine()
	var traces []rules.Trace
	engine.Trace = func(t rules.Trace) { traces = append(traces, t) }
	bad := &badLines{w: stderr}
	stats, err := ingest.Replay(p.inputs, p.decoding(bad),
		func(ev *event.Event) error {
			traces = traces[:0]
			fired := engine.Observe(ev)
			if len(traces) == 0 && len(fired) == 0 && !*all {
				return ctx.Err()
			}
			file, _ := ev.Get("@file")
			line, _ := ev.Get("@line")
			fmt.Fprintf(out, "%s:%s %s", file, line, event.FormatTime(ev.Time))
			if et, ok := ev.Get("event_type"); ok {
				fmt.Fprintf(out, " event_type=%s", redact.Sanitize(et, 80))
			}
			fmt.Fprintln(out)
			if len(traces) == 0 {
				fmt.Fprintln(out, "  no rule matched")
			}
			for _, t := range traces {
				fmt.Fprintf(out, "  %-32s %s  %s\n", t.Rule.ID, groupText(t.Group), t.Outcome)
			}
			for i := range fired {
				fmt.Fprintf(out, "  ALERT %s\n", alerting.Text(&fired[i]))
			}
			return ctx.Err()
		})
	bad.close()
	out.Flush()
	summary(stderr, stats, engine.Stats(), sumAlerts(engine.Stats()))
	if err != nil {
		fmt.Fprintf(stderr, "secwatch: explain: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func groupText(g []event.Field) string {
	if g == nil {
		return "-"
	}
	if len(g) == 0 {
		return "(global)"
	}
	return alerting.FieldsText(g)
}

func sumAlerts(rs []rules.RuleStats) int64 {
	var n int64
	for _, r := range rs {
		n += r.Alerts
	}
	return n
}
