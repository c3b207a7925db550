package format

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// TimeFormats lists the named forms of time_format, in the order they are
// documented.
var TimeFormats = []string{"rfc3164", "rfc5424", "clf", "iso8601", "epoch", "epoch_ms"}

// Go layouts of the named forms that time.Parse reads.
const (
	layoutRFC3164 = "Jan _2 15:04:05"
	layoutCLF     = "02/Jan/2006:15:04:05 -0700"
)

// futureSlack is how far past its reference a time without a year may lie
// before it is taken to be from the year before (see inferYear): the
// reference is when the log was last written, so only clock skew or a
// wrong time_zone (at most 14h) puts a line after it.
const futureSlack = 24 * time.Hour

type timeKind int

const (
	timeAuto    timeKind = iota // event.ParseTime: ISO 8601 or epoch, zoneless is UTC
	timeISO                     // event.ParseTime, zoneless in loc
	timeLayout                  // time.ParseInLocation(layout, …, loc)
	timeEpoch                   // seconds, integer or fractional
	timeEpochMS                 // milliseconds, integer
)

// timeParser reads a time as a source's time_format and time_zone say. Its
// zero value is the default (event.ParseTime), so that the fast ISO path
// stays a single branch. A layout without a year (rfc3164) gets one from
// inferYear, which keeps state: one timeParser per parser.
type timeParser struct {
	kind    timeKind
	format  string // as configured, for error messages
	layout  string
	loc     *time.Location // nil: UTC
	noYear  bool           // layout carries no year
	ref     time.Time      // Options.Reference; zero: the clock at each line
	last    time.Time      // the last time inferred by inferYear
	setLast bool
}

// newTimeParser compiles time_format and time_zone. Errors start with the
// key they are about ("time_format: …").
func newTimeParser(format, zone string, ref time.Time) (*timeParser, error) {
	tp := &timeParser{format: format, ref: ref}
	if zone != "" {
		loc, err := loadZone(zone)
		if err != nil {
			return nil, err
		}
		tp.loc = loc
	}
	switch {
	case format == "":
		if tp.loc != nil {
			tp.kind = timeISO
		}
	case strings.Contains(format, "%"):
		if format == "%s" {
			tp.kind = timeEpoch
			break
		}
		layout, err := strftimeLayout(format)
		if err != nil {
			return nil, fmt.Errorf("time_format: %w", err)
		}
		if err := tp.setLayout(layout); err != nil {
			return nil, fmt.Errorf("time_format: %q: %w", format, err)
		}
	default:
		if err := tp.named(format); err != nil {
			return nil, err
		}
	}
	return tp, nil
}

// named sets tp to one of TimeFormats or, failing that, to a Go layout.
func (tp *timeParser) named(format string) error {
	switch format {
	case "rfc3164":
		return tp.setLayout(layoutRFC3164)
	case "clf":
		return tp.setLayout(layoutCLF)
	case "rfc5424", "iso8601":
		tp.kind = timeISO
		return nil
	case "epoch":
		tp.kind = timeEpoch
		return nil
	case "epoch_ms":
		tp.kind = timeEpochMS
		return nil
	}
	// A misspelt name may well read as a layout ("rfc3146": 1 is the
	// month, 3 the hour), so the names are tried first.
	if hint := yamldiag.DidYouMean(format, TimeFormats, nil); hint != "" {
		return fmt.Errorf("time_format: unknown name %q%s", format, hint)
	}
	if err := tp.setLayout(format); err != nil {
		return fmt.Errorf("time_format: %q: %w (valid: a Go layout like %q, a strftime form like %q, or one of %s)",
			format, err, time.RFC3339, "%Y-%m-%d %H:%M:%S", strings.Join(TimeFormats, ", "))
	}
	return nil
}

// Reference times that differ in every element, to tell a layout that
// reads a time from text that merely looks like one.
var (
	probeA = time.Date(2009, 11, 10, 23, 45, 56, 123456789, time.FixedZone("PDT", -7*3600))
	probeB = time.Date(2017, 2, 3, 4, 7, 8, 0, time.UTC)
)

// setLayout checks that layout is a Go layout with at least one date or
// time element, and that it reads back what it writes.
func (tp *timeParser) setLayout(layout string) error {
	if probeA.Format(layout) == probeB.Format(layout) {
		return errors.New("has no date or time elements")
	}
	if _, err := time.Parse(layout, probeA.Format(layout)); err != nil {
		return errors.New("is not a layout time.Parse can read")
	}
	tp.kind, tp.layout = timeLayout, layout
	tp.noYear = probeA.Format(layout) == probeA.AddDate(1, 0, 0).Format(layout)
	return nil
}

// loadZone loads an IANA zone name, "UTC" or "Local".
func loadZone(name string) (*time.Location, error) {
	if name == "UTC" || name == "Local" {
		return time.LoadLocation(name)
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("time_zone: must be an IANA zone name like %q, \"UTC\" or \"Local\", got %q", "Europe/Paris", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time_zone: unknown zone %q (an IANA name like %q, \"UTC\" or \"Local\")", name, "Europe/Paris")
	}
	return loc, nil
}

// parse reads s. fallback is the caller's time for the line (zero if
// none), a better reference than Options.Reference for a time without a
// year.
func (tp *timeParser) parse(s string, fallback time.Time) (time.Time, bool) {
	var t time.Time
	switch tp.kind {
	case timeAuto:
		return event.ParseTime(s)
	case timeISO:
		t, ok := event.ParseTime(s)
		if ok && tp.loc != nil && !hasZone(s) {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), tp.loc)
		}
		return t.UTC(), ok && event.InRange(t)
	case timeEpoch:
		if strings.ContainsAny(s, "-:T ") || strings.IndexByte(s, '.') < 0 && len(s) > 11 {
			return time.Time{}, false // ISO 8601 is iso8601, milliseconds epoch_ms
		}
		return event.ParseTime(s)
	case timeEpochMS:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, false
		}
		t = time.UnixMilli(n).UTC()
	case timeLayout:
		loc := tp.loc
		if loc == nil {
			loc = time.UTC
		}
		var err error
		if t, err = time.ParseInLocation(tp.layout, s, loc); err != nil {
			return time.Time{}, false
		}
		if tp.noYear {
			t = tp.inferYear(t, fallback)
		}
		t = t.UTC()
	}
	return t, event.InRange(t)
}

// inferYear gives t (read without a year) the year that puts it at most
// futureSlack after the reference: the latest of Options.Reference (or the
// clock), the line's fallback time and the last time inferred. Lines in
// order across New Year thus get increasing years, and a date more than a
// day ahead of the reference is taken as last year's. See docs/formats.md.
func (tp *timeParser) inferYear(t, fallback time.Time) time.Time {
	ref := tp.ref
	if ref.IsZero() {
		ref = time.Now()
	}
	if fallback.After(ref) {
		ref = fallback
	}
	if tp.setLast && tp.last.After(ref) {
		ref = tp.last
	}
	limit := ref.Add(futureSlack)
	var c time.Time
	for y := ref.Year() + 1; y >= ref.Year()-1; y-- {
		c = time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		if c.Month() == t.Month() && !c.After(limit) {
			break // a 29 February of another year normalises to March: skip it
		}
	}
	tp.last, tp.setLast = c, true
	return c
}

// hasZone reports whether an ISO 8601 time s ends with a zone.
func hasZone(s string) bool {
	if len(s) <= 19 {
		return false
	}
	if c := s[len(s)-1]; c == 'Z' || c == 'z' {
		return true
	}
	return strings.ContainsAny(s[19:], "+-")
}

// strftimeDirectives maps strftime directives to Go layout elements.
var strftimeDirectives = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'j': "002",
	'H': "15", 'I': "03", 'M': "04", 'S': "05", 'p': "PM",
	'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday",
	'z': "-0700", 'Z': "MST", 'F': "2006-01-02", 'T': "15:04:05", 'D': "01/02/06",
}

// strftimeLayout converts a strftime form to a Go layout. %f and %L (a
// fraction, after '.' or ','), and %% are the other directives; literal
// text that Go would read as a layout element is refused rather than
// misread.
func strftimeLayout(f string) (string, error) {
	var b, lit strings.Builder
	flush := func() error {
		if s := lit.String(); s != "" {
			if probeA.Format(s) != s {
				return fmt.Errorf("literal text %q would be read as a date or time element", s)
			}
			b.WriteString(s)
			lit.Reset()
		}
		return nil
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit.WriteByte(f[i])
			continue
		}
		if i+1 == len(f) {
			return "", fmt.Errorf("%q: lone %% at the end", f)
		}
		i++
		d := f[i]
		switch {
		case d == '%':
			lit.WriteByte('%')
			continue
		case d == 'f' || d == 'L':
			s := lit.String()
			if s == "" || (s[len(s)-1] != '.' && s[len(s)-1] != ',') {
				return "", fmt.Errorf("%q: %%%c must follow '.' or ','", f, d)
			}
			sep := s[len(s)-1]
			lit.Reset()
			lit.WriteString(s[:len(s)-1])
			if err := flush(); err != nil {
				return "", fmt.Errorf("%q: %w", f, err)
			}
			b.WriteByte(sep)
			b.WriteString("999999999")
			continue
		case d == 's':
			return "", fmt.Errorf("%q: %%s (epoch seconds) must be the whole format", f)
		}
		el, ok := strftimeDirectives[d]
		if !ok {
			return "", fmt.Errorf("%q: unknown directive %%%c at byte %d", f, d, i)
		}
		if err := flush(); err != nil {
			return "", fmt.Errorf("%q: %w", f, err)
		}
		b.WriteString(el)
	}
	if err := flush(); err != nil {
		return "", fmt.Errorf("%q: %w", f, err)
	}
	return b.String(), nil
}
