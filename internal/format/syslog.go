package format

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
)

// syslogParser is the syslog format: RFC 3164 lines as syslog daemons
// write them to files ("Mar  1 12:00:01 host sshd[123]: message", the
// time also in ISO 8601 as rsyslog's high-precision file format writes it),
// and RFC 5424 lines ("<34>1 2026-03-01T12:00:01Z host app 123 ID47 [sd]
// message"), told apart per line. Fields: host, program, pid, message,
// and for RFC 5424 msgid and the structured data's parameters as
// "SD-ID.name"; facility and severity when the line has a <PRI>. A "-"
// (RFC 5424's nil value) leaves the field absent.
//
// With a pattern, its named groups matched against the message become
// fields too (after the syslog fields, which they do not replace); a
// message that does not match adds none.
type syslogParser struct {
	bsd, iso *timeParser // RFC 3164 and ISO 8601 times
	re       *regexp.Regexp
	names    []string
	clock
}

func newSyslogParser(opt Options) (*syslogParser, error) {
	p := &syslogParser{}
	var err error
	if p.bsd, err = newTimeParser("rfc3164", opt.TimeZone, opt.Reference); err != nil {
		return nil, err
	}
	if p.iso, err = newTimeParser("iso8601", opt.TimeZone, opt.Reference); err != nil {
		return nil, err
	}
	if opt.Pattern != "" {
		if p.re, err = compilePattern(opt.Pattern); err != nil {
			return nil, err
		}
		p.names = p.re.SubexpNames()
	}
	return p, nil
}

var (
	facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
		"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
	severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
)

func (p *syslogParser) Parse(line []byte, ev *event.Event) error {
	s, lead, err := lineString(line)
	if err != nil {
		return err
	}
	i := 0
	if s[0] == '<' {
		if i, err = syslogPRI(s, ev); err != nil {
			return err
		}
	}
	if strings.HasPrefix(s[i:], "1 ") {
		err = p.parse5424(s, i+2, lead, ev)
	} else {
		err = p.parse3164(s, i, lead, ev)
	}
	if err != nil {
		return err
	}
	if msg, ok := ev.Get("message"); ok && p.re != nil {
		if idx := p.re.FindStringSubmatchIndex(msg); idx != nil {
			addGroups(ev, p.names, idx, msg)
		}
	}
	return nil
}

// syslogPRI reads "<PRI>" at the start of s, adds facility and severity,
// and returns the offset after it.
func syslogPRI(s string, ev *event.Event) (int, error) {
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 || !isDigits(s[1:end]) {
		return 0, errors.New("invalid syslog priority at byte 1: want <0> to <191>")
	}
	pri := 0
	for _, c := range s[1:end] {
		pri = pri*10 + int(c-'0')
	}
	if pri > 191 {
		return 0, fmt.Errorf("invalid syslog priority %d at byte 1: want 0 to 191", pri)
	}
	ev.Add("facility", facilities[pri/8])
	ev.Add("severity", severities[pri%8])
	return end + 1, nil
}

// parse3164 reads "TIME HOST TAG: MESSAGE" from s[i:]. HOST is absent when
// the word after the time is already the tag; a line without a tag is all
// message.
func (p *syslogParser) parse3164(s string, i, lead int, ev *event.Event) error {
	var ts string
	var tp *timeParser
	switch {
	case len(s)-i >= 15 && s[i] >= 'A' && s[i] <= 'Z':
		ts, tp = s[i:i+15], p.bsd
	case i < len(s) && s[i] >= '0' && s[i] <= '9':
		ts, tp = word(s[i:]), p.iso
	default:
		return fmt.Errorf("not a syslog line at byte %d: want a time like \"Mar  1 12:00:01\" or <PRI>", lead+i+1)
	}
	t, ok := tp.parse(ts, ev.Time)
	if !ok {
		return fmt.Errorf("invalid syslog time %q at byte %d", clip(ts, 32), lead+i+1)
	}
	rest := strings.TrimLeft(s[i+len(ts):], " ")
	if host := word(rest); host != "" && !isTag(host) {
		ev.Add("host", host)
		rest = strings.TrimLeft(rest[len(host):], " ")
	}
	if tag := word(rest); isTag(tag) {
		prog, pid := splitTag(strings.TrimSuffix(tag, ":"))
		addNonEmpty(ev, "program", prog)
		addNonEmpty(ev, "pid", pid)
		rest = strings.TrimLeft(rest[len(tag):], " ")
	}
	addNonEmpty(ev, "message", rest)
	return p.settle(ev, t, true)
}

// parse5424 reads "TIME HOST APP PROCID MSGID SD [MSG]" from s[i:].
func (p *syslogParser) parse5424(s string, i, lead int, ev *event.Event) error {
	var f [5]string
	for k := range f {
		f[k] = word(s[min(i, len(s)):])
		if f[k] == "" {
			return fmt.Errorf("invalid rfc 5424 header at byte %d: want TIME HOST APP PROCID MSGID", lead+i+1)
		}
		if k == 0 && f[0] != "-" {
			t, ok := p.iso.parse(f[0], ev.Time)
			if !ok {
				return fmt.Errorf("invalid syslog time %q at byte %d", clip(f[0], 32), lead+i+1)
			}
			if err := p.settle(ev, t, true); err != nil {
				return err
			}
		}
		i += len(f[k]) + 1
	}
	if f[0] == "-" {
		if err := p.settle(ev, ev.Time, false); err != nil {
			return err
		}
	}
	for k, name := range []string{"", "host", "program", "pid", "msgid"} {
		if k > 0 && f[k] != "-" {
			ev.Add(name, f[k])
		}
	}
	if i >= len(s) {
		return fmt.Errorf("invalid rfc 5424 line at byte %d: structured data missing (want - or [id ...])", lead+len(s)+1)
	}
	n, err := structuredData(s[i:], ev)
	if err != nil {
		return fmt.Errorf("invalid rfc 5424 structured data at byte %d: %w", lead+i+1, err)
	}
	msg := strings.TrimPrefix(strings.TrimLeft(s[i+n:], " "), "\ufeff")
	addNonEmpty(ev, "message", msg)
	return nil
}

// structuredData reads "-" or a run of "[SD-ID name="value" ...]" elements
// at the start of s, adding each parameter as "SD-ID.name", and returns
// their length.
func structuredData(s string, ev *event.Event) (int, error) {
	if s[0] == '-' {
		return 1, nil
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		i++
		id := sdName(s[i:])
		if id == "" {
			return 0, errors.New("want an SD-ID after '['")
		}
		i += len(id)
		for i < len(s) && s[i] == ' ' {
			i++
			name := sdName(s[i:])
			if name == "" || i+len(name)+1 >= len(s) || s[i+len(name)] != '=' || s[i+len(name)+1] != '"' {
				return 0, errors.New(`want name="value"`)
			}
			i += len(name) + 2
			var b strings.Builder
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\]`, s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
			}
			if i == len(s) {
				return 0, errors.New("unterminated parameter value")
			}
			i++
			addIfAbsent(ev, id+"."+name, b.String())
		}
		if i == len(s) || s[i] != ']' {
			return 0, errors.New("want ']'")
		}
		i++
	}
	if i == 0 {
		return 0, errors.New("want - or '['")
	}
	return i, nil
}

// sdName is the SD-NAME at the start of s: printable ASCII but space, '=',
// ']' and '"'.
func sdName(s string) string {
	i := 0
	for i < len(s) && i < 32 && s[i] > ' ' && s[i] < 127 && strings.IndexByte(`="]`, s[i]) < 0 {
		i++
	}
	return s[:i]
}

// word is s up to its first space.
func word(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// isTag reports whether w is a syslog tag: "program:" or "program[pid]:".
func isTag(w string) bool {
	return len(w) > 1 && w[len(w)-1] == ':'
}

// splitTag splits "sshd[123]" into "sshd" and "123".
func splitTag(tag string) (program, pid string) {
	if i := strings.IndexByte(tag, '['); i >= 0 && strings.HasSuffix(tag, "]") {
		return tag[:i], tag[i+1 : len(tag)-1]
	}
	return tag, ""
}

func addNonEmpty(ev *event.Event, key, value string) {
	if value != "" {
		ev.Add(key, value)
	}
}
