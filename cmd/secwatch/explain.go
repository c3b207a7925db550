package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// maxExplained is how much of one logged value explain shows.
const maxExplained = 200

func cmdExplain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("explain", "FILE...",
		"For each event, show its fields, the rules that selected it (group key, count in the window,\n"+
			"why the rule fired or not) and, for the rules that did not, the first failing condition with\n"+
			"the value seen. Without --all only the rules that came closest are shown (the most\n"+
			"conditions held), and only events that some rule selected or came close to.", stderr)
	var f replayFlags
	f.register(fs)
	all := fs.Bool("all", false, "list every event, and every rule that did not select it")
	output := outputFlag(fs)
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
	var writeErr error
	stats, err := ingest.Replay(p.inputs, p.decoding(bad),
		func(ev *event.Event) error {
			traces = traces[:0]
			fired := engine.Observe(ev)
			x := explainEvent(ev, p.rules, traces, fired, *all)
			if x == nil {
				return ctx.Err()
			}
			if output.json() {
				writeErr = json.NewEncoder(out).Encode(x)
			} else {
				x.writeText(out)
			}
			if writeErr != nil {
				return writeErr
			}
			return ctx.Err()
		})
	bad.close()
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	summary(stderr, stats, engine.Stats(), sumAlerts(engine.Stats()))
	if err != nil {
		fmt.Fprintf(stderr, "secwatch: explain: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// explained is what explain says about one event (also its JSON form).
// Logged values are redacted and sanitized.
type explained struct {
	File     string            `json:"file"`
	Line     int               `json:"line"`
	Time     string            `json:"time"`
	Fields   []event.Field     `json:"-"`
	FieldMap map[string]string `json:"fields"`
	Selected []selected        `json:"selected"`
	Missed   []missed          `json:"not_selected"`
	// AllRules is false when only the closest misses are listed.
	AllRules bool                `json:"all_rules"`
	Alerts   []alerting.Document `json:"alerts"`

	alertText []string
}

type selected struct {
	Rule    string            `json:"rule"`
	Group   map[string]string `json:"group"` // null when ungrouped
	Count   int               `json:"count"`
	Fired   bool              `json:"fired"`
	Outcome string            `json:"outcome"`

	group []event.Field
}

type missed struct {
	Rule     string `json:"rule"`
	Position string `json:"position"` // of the failing condition in the rule file
	Field    string `json:"field"`
	Op       string `json:"op"`
	Operand  string `json:"operand"`
	Present  bool   `json:"present"`
	Value    string `json:"value,omitempty"`
	Held     int    `json:"held"`
	Reason   string `json:"reason"`
}

// explainEvent builds the explanation of ev, or returns nil when there is
// nothing to say (no rule selected it or came close, and not all).
func explainEvent(ev *event.Event, rs []*rules.Rule, traces []rules.Trace, fired []rules.Alert, all bool) *explained {
	x := &explained{Time: event.FormatTime(ev.Time), AllRules: all, Selected: []selected{}, Missed: []missed{}, Alerts: []alerting.Document{}}
	seen := make(map[*rules.Rule]bool, len(traces))
	for _, t := range traces {
		seen[t.Rule] = true
		x.Selected = append(x.Selected, selected{Rule: t.Rule.ID, Group: shownMap(t.Group), Count: t.Count,
			Fired: t.Fired, Outcome: t.Outcome, group: t.Group})
	}
	best := 1 // without --all, a miss is shown only if something held
	for _, r := range rs {
		if seen[r] {
			continue
		}
		m, ok := rules.ExplainMiss(r, ev)
		if ok {
			continue // selected, but the engine did not look (out of range)
		}
		if !all {
			if m.Held < best {
				continue
			}
			if m.Held > best {
				best, x.Missed = m.Held, x.Missed[:0]
			}
		}
		m.Value = redact.Sanitize(redact.Value(m.Field, m.Value), maxExplained)
		reason := m.String()
		if !m.Present && m.Op != rules.OpExists {
			// A field the rule reads and the event lacks is often a typo,
			// on either side.
			if k := yamldiag.Suggest(m.Field, keys(ev), nil); k != "" {
				reason += fmt.Sprintf(" (the event has %q)", redact.Sanitize(k, maxExplained))
			}
		}
		x.Missed = append(x.Missed, missed{Rule: r.ID, Position: fmt.Sprintf("%s:%d:%d", r.File, m.Line, m.Col),
			Field: m.Field, Op: string(m.Op), Operand: m.Operand, Present: m.Present, Value: m.Value,
			Held: m.Held, Reason: reason})
	}
	if !all && len(x.Selected) == 0 && len(x.Missed) == 0 && len(fired) == 0 {
		return nil
	}
	for i := range fired {
		x.Alerts = append(x.Alerts, alerting.NewDocument(&fired[i]))
		x.alertText = append(x.alertText, alertText(&fired[i]))
	}
	for _, fl := range ev.Fields {
		switch fl.Key {
		case "@file":
			x.File = fl.Value
		case "@line":
			x.Line, _ = strconv.Atoi(fl.Value)
		default:
			x.Fields = append(x.Fields, fl)
		}
	}
	x.FieldMap = shownMap(x.Fields)
	return x
}

func keys(ev *event.Event) []string {
	ks := make([]string, len(ev.Fields))
	for i, f := range ev.Fields {
		ks[i] = f.Key
	}
	return ks
}

// shownMap is fields as a map, redacted and sanitized; nil for nil.
func shownMap(fields []event.Field) map[string]string {
	if fields == nil {
		return nil
	}
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		k := redact.Sanitize(f.Key, maxExplained)
		if _, dup := m[k]; !dup {
			m[k] = redact.Sanitize(redact.Value(f.Key, f.Value), maxExplained)
		}
	}
	return m
}

func (x *explained) writeText(w io.Writer) {
	fmt.Fprintf(w, "%s:%d %s\n", redact.Sanitize(x.File, maxExplained), x.Line, x.Time)
	fmt.Fprintf(w, "  fields: %s\n", alerting.FieldsText(x.Fields))
	if len(x.Selected) == 0 {
		fmt.Fprintln(w, "  selected by no rule")
	}
	for _, s := range x.Selected {
		fmt.Fprintf(w, "  %-32s %s  %s\n", s.Rule, groupText(s.group), s.Outcome)
	}
	for _, m := range x.Missed {
		fmt.Fprintf(w, "  %-32s not selected: %s (%s)\n", m.Rule, m.Reason, m.Position)
	}
	for _, a := range x.alertText {
		fmt.Fprintf(w, "  ALERT %s\n", a)
	}
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
