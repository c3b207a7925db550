package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rules"
)

// verifyFallbackTime stands in for the CloudWatch event time, which a
// recorded line does not carry: a line without a time of its own still
// parses, as it would from the CloudWatch source.
var verifyFallbackTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// alarmedRule is a rule with an alarm block and its parsed filter pattern.
type alarmedRule struct {
	r *rules.Rule
	p *pattern.Pattern
	// Lines the rule's match and the pattern matched: a rule and pattern
	// that agree only because neither ever matches are worth seeing.
	ruleHits, patternHits int
}

// verifyAlarms is `secwatch alarms plan --verify FILE...`, the offline twin
// of `aws logs test-metric-filter`: it replays the lines of files through
// each alarmed rule of rs (parsed with the ingest format and timeField, as
// the daemon's CloudWatch source would) and through the rule's filter
// pattern (on the raw line), and prints to stdout every line on which they
// disagree, then per-rule match counts and a summary (docs/alarms.md). It
// returns the number of disagreements; err is for files that cannot be
// read, a bad format, and patterns that do not parse or compile (each
// printed to stderr first). Callers exit 1 on either.
func verifyAlarms(stdout, stderr io.Writer, rs []*rules.Rule, fmtName, timeField string, files []string) (disagreements int, err error) {
	if len(files) == 0 {
		return 0, errors.New("--verify needs at least one recorded log file")
	}
	newParser := func() (format.Parser, error) {
		return format.NewParser(fmtName, format.Options{TimeField: timeField, PlainText: true})
	}
	if _, err := newParser(); err != nil {
		fmt.Fprintf(stderr, "secwatch alarms plan --verify: %v\n", err)
		return 0, err
	}
	var ars []alarmedRule
	var bad int
	for _, r := range rs {
		if r.Alarm == nil {
			continue
		}
		src, err := pattern.Compile(r)
		if err == nil {
			var p *pattern.Pattern
			if p, err = pattern.Parse(src); err == nil {
				ars = append(ars, alarmedRule{r: r, p: p})
				continue
			}
			err = fmt.Errorf("%s:%d:%d: rule %q: alarm.filter_pattern %q: %w", r.File, r.Line, r.Col, r.ID, src, err)
		}
		fmt.Fprintln(stderr, err)
		bad++
	}
	if bad > 0 {
		return 0, fmt.Errorf("%d alarmed rules have no pattern secwatch can evaluate", bad)
	}
	if len(ars) == 0 {
		fmt.Fprintln(stderr, "secwatch alarms plan --verify: no rule has an alarm block")
		return 0, errors.New("no alarmed rules")
	}
	lines := 0
	for _, name := range files {
		n, d, err := verifyFile(stdout, name, newParser, ars)
		lines += n
		disagreements += d
		if err != nil {
			fmt.Fprintf(stderr, "secwatch alarms plan --verify: %v\n", err)
			return disagreements, err
		}
	}
	for _, a := range ars {
		fmt.Fprintf(stdout, "rule %q: %d lines match the rule, %d the filter pattern %s\n", a.r.ID, a.ruleHits, a.patternHits, a.p)
	}
	fmt.Fprintf(stdout, "verified %d alarmed rules on %d lines: %d disagreements\n", len(ars), lines, disagreements)
	return disagreements, nil
}

// verifyFile replays one file; it returns the lines read and the
// disagreements found.
func verifyFile(stdout io.Writer, name string, newParser func() (format.Parser, error), ars []alarmedRule) (lines, disagreements int, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	parser, err := newParser()
	if err != nil {
		return 0, 0, err
	}
	rd := ingest.NewReader(f, name)
	var ev event.Event
	for {
		line, pos, err := rd.Next()
		if err == io.EOF {
			return lines, disagreements, nil
		}
		var lerr *ingest.LineError
		if errors.As(err, &lerr) {
			lines++
			fmt.Fprintf(stdout, "%s: skipped: %v\n", lerr.Pos, lerr.Err)
			continue
		}
		if err != nil {
			return lines, disagreements, err
		}
		lines++
		ev.Reset()
		ev.Time = verifyFallbackTime
		perr := parser.Parse(line, &ev)
		if errors.Is(perr, format.ErrEmptyLine) {
			continue
		}
		msg := pattern.NewMessage(line)
		for i := range ars {
			a := &ars[i]
			rm := perr == nil && a.r.Match.Eval(&ev)
			pm := a.p.MatchMessage(msg)
			if rm {
				a.ruleHits++
			}
			if pm {
				a.patternHits++
			}
			if rm == pm {
				continue
			}
			disagreements++
			what := "rule matches, filter pattern does not"
			if pm {
				what = "filter pattern matches, rule does not"
				if perr != nil {
					what += " (the line does not parse: " + perr.Error() + ")"
				}
			}
			fmt.Fprintf(stdout, "%s:%d: rule %q: %s\n", name, pos.Line, a.r.ID, what)
		}
	}
}
