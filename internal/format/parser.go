package format

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
)

// Parser turns one line (without its line terminator) into ev.
//
// The caller has Reset ev, and may have set ev.Time to a fallback time (for
// example the CloudWatch event timestamp); the parser replaces it with the
// time the line carries, if any. A line that carries no time of its own and
// has no fallback takes the time of the previous line with a time of its own
// that this parser saw (uvicorn access lines have none); if there is none
// yet, Parse returns an error ("no timestamp").
//
// Lines are taken to be valid UTF-8 (Reader rejects others); parsers do not
// check again. Parse never keeps or aliases line: the caller may reuse the
// buffer as soon as Parse returns. The values it sets are strings that are
// never modified, so a Clone of the event stays valid.
//
// Errors are short lowercase descriptions ("invalid json at byte 17:
// expected ':' after key", "no timestamp"); the caller adds the position.
// After an error ev may hold some fields and is to be discarded. A line
// that is empty or only white space gives ErrEmptyLine, which callers skip
// rather than count as malformed.
//
// Parsers are not safe for concurrent use: each source owns its own.
type Parser interface {
	Parse(line []byte, ev *event.Event) error
}

// Options configure NewParser. The zero value is valid for every format but
// regex.
type Options struct {
	// TimeField names the field that holds the event time, for the json,
	// logfmt and regex formats (a dotted path for nested JSON). If empty,
	// json and logfmt use the first of event.TimeFields present and regex
	// uses the group named "time". The mcp and alb formats know where their
	// time is and reject this option.
	TimeField string
	// Pattern is the RE2 pattern of the regex format; its named groups
	// become fields. Required for regex; for syslog it is optional and
	// applies to the message; rejected by the other formats.
	Pattern string
	// TimeFormat is how the time field is written (time_format): a name
	// of TimeFormats, a strftime form (it contains '%') or a Go layout.
	// Empty means ISO 8601 or epoch (event.ParseTime). For json, logfmt
	// and regex only.
	TimeFormat string
	// TimeZone is the zone of times written without one (time_zone): an
	// IANA name, "UTC" or "Local". Empty means UTC. For json, logfmt,
	// regex and syslog only.
	TimeZone string
	// Reference is when the log was last written (a replayed file's
	// modification time): times written without a year get theirs from
	// it (docs/formats.md). Zero means the clock when each line is read,
	// as for a live source.
	Reference time.Time
	// Borrow lets the json parser return values that point into the line
	// buffer instead of copying each line: they stay valid only until the
	// caller reads the next line (for a consumer that copies whatever it
	// keeps, as the rule engine does in replay). Other formats ignore it.
	Borrow bool
	// Fields, when not nil, makes the json parser extract only these
	// fields (plus the time field); it still validates the whole line.
	// ExpandLine (on the parser, LineExpander) adds the others to the
	// event later, for the rare event that is kept as an alert sample.
	// Other formats ignore it.
	Fields []string
	// PlainText makes the json parser take a line that is not a JSON
	// object as an event with the trimmed line in "message" and the
	// caller's fallback time, instead of rejecting it: CloudWatch
	// messages, where plain text and JSON share a log group. Other
	// formats ignore it.
	PlainText bool
}

// Formats lists the valid format names, in the order they are documented.
var Formats = []string{"json", "logfmt", "regex", "syslog", "clf", "nginx", "mcp", "alb"}

// EventTypeUnparsed is the event_type of an mcp event made from a line whose
// shape the parser does not recognise. Such lines are events, not errors, so
// that nothing the server writes is silently dropped.
const EventTypeUnparsed = "unparsed"

// ErrEmptyLine is returned by every parser for a line that is empty or only
// white space.
var ErrEmptyLine = errors.New("empty line")

var errNoTimestamp = errors.New("no timestamp")

// NewParser returns a parser for format ("" means json). Option errors name
// the configuration keys (time_field, pattern) as the user writes them.
func NewParser(format string, opt Options) (Parser, error) {
	if format == "" {
		format = "json"
	}
	if !slices.Contains(Formats, format) {
		return nil, fmt.Errorf("unknown format %q (valid: %s)", format, strings.Join(Formats, ", "))
	}
	if err := checkOptions(format, opt); err != nil {
		return nil, err
	}
	var tp *timeParser
	if opt.TimeFormat != "" || opt.TimeZone != "" {
		var err error
		if tp, err = newTimeParser(opt.TimeFormat, opt.TimeZone, opt.Reference); err != nil {
			return nil, err
		}
	}
	switch format {
	case "json":
		p := newJSONParser(opt.TimeField)
		p.borrow, p.plain, p.times = opt.Borrow, opt.PlainText, tp
		p.f.setProjection(opt.Fields, opt.TimeField)
		return p, nil
	case "logfmt":
		return &logfmtParser{timeField: opt.TimeField, times: tp}, nil
	case "regex":
		p, err := newRegexParser(opt.Pattern, opt.TimeField)
		if err != nil {
			return nil, err
		}
		p.times = tp
		return p, nil
	case "syslog":
		return newSyslogParser(opt)
	case "clf", "nginx":
		return &clfParser{nginx: format == "nginx"}, nil
	case "mcp":
		return newMCPParser(), nil
	}
	return &albParser{}, nil
}

// checkOptions refuses the options format does not use.
func checkOptions(format string, opt Options) error {
	switch {
	case opt.Pattern != "" && format != "regex" && format != "syslog":
		return errors.New("pattern: only valid with formats regex and syslog")
	case opt.TimeField != "" && !slices.Contains([]string{"json", "logfmt", "regex"}, format):
		return fmt.Errorf("time_field: not used by format %s", format)
	case opt.TimeFormat != "" && !slices.Contains([]string{"json", "logfmt", "regex"}, format):
		return fmt.Errorf("time_format: not used by format %s, which knows its time format", format)
	case opt.TimeZone != "" && !slices.Contains([]string{"json", "logfmt", "regex", "syslog"}, format):
		return fmt.Errorf("time_zone: not used by format %s, whose times carry a zone", format)
	}
	return nil
}

// clock implements the time rules shared by every parser: a line's own time
// wins, then the caller's fallback, then the time of the last line that had
// its own.
type clock struct {
	last time.Time
}

// settle sets ev.Time. own reports whether the line carried a valid time t.
func (c *clock) settle(ev *event.Event, t time.Time, own bool) error {
	switch {
	case own:
		ev.Time = t
		c.last = t
	case !ev.Time.IsZero():
		// keep the caller's fallback
	case !c.last.IsZero():
		ev.Time = c.last
	default:
		return errNoTimestamp
	}
	return nil
}

// fieldTime finds the event time among ev's fields: the field named name, or
// the first of event.TimeFields present when name is empty. found reports
// whether such a field exists; a field that exists but does not parse (by
// tp, or event.ParseTime when tp is nil) is an error, because silently
// using another time would misplace the event in every window.
func fieldTime(ev *event.Event, name string, tp *timeParser) (t time.Time, found bool, err error) {
	var v string
	if name != "" {
		v, found = ev.Get(name)
	} else {
		for _, n := range event.TimeFields {
			if v, found = ev.Get(n); found {
				name = n
				break
			}
		}
	}
	if !found {
		return time.Time{}, false, nil
	}
	var ok bool
	if tp == nil {
		t, ok = event.ParseTime(v)
	} else {
		t, ok = tp.parse(v, ev.Time)
	}
	if !ok {
		// The message is logged: a credential in the field stays masked.
		if tp != nil && tp.format != "" {
			return time.Time{}, true, fmt.Errorf("invalid time %q in field %q (time_format %q)", clip(redact.Text(v), 40), name, tp.format)
		}
		return time.Time{}, true, fmt.Errorf("invalid time %q in field %q", clip(redact.Text(v), 40), name)
	}
	return t, true, nil
}

// clip shortens attacker-controlled text quoted in an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// back up to a rune boundary so the message stays valid UTF-8
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// lineString converts line once, trimmed of surrounding white space; every
// parser's first step. lead is the number of bytes trimmed from the front,
// so that error offsets refer to the line as read.
func lineString(line []byte) (s string, lead int, err error) {
	i, j := trimBounds(line)
	if i == j {
		return "", 0, ErrEmptyLine
	}
	return string(line[i:j]), i, nil
}

// trimBounds returns the bounds of line without surrounding white space,
// found before converting so that blank lines cost nothing.
func trimBounds(line []byte) (i, j int) {
	i, j = 0, len(line)
	for i < j && isSpace(line[i]) {
		i++
	}
	for j > i && isSpace(line[j-1]) {
		j--
	}
	return i, j
}

// addIfAbsent adds key unless ev already has it (first value wins).
func addIfAbsent(ev *event.Event, key, value string) {
	if _, ok := ev.Get(key); !ok {
		ev.Add(key, value)
	}
}
