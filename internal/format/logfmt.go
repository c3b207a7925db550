package format

import (
	"fmt"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/event"
)

// logfmtParser is the logfmt format: key=value pairs separated by white
// space. A value may be double-quoted with Go/JSON-style backslash escapes
// (\" \\ \n \r \t \uXXXX); a bare key without '=' means "true"; "key=" is
// an empty value (present, not absent). The first of duplicate keys wins.
type logfmtParser struct {
	timeField string
	times     *timeParser // nil: event.ParseTime
	clock
	scratch []byte
}

func (p *logfmtParser) Parse(line []byte, ev *event.Event) error {
	s, lead, err := lineString(line)
	if err != nil {
		return err
	}
	for i := 0; i < len(s); {
		if isSpace(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '"' {
			i++
		}
		if i == start {
			return fmt.Errorf("invalid logfmt at byte %d: expected key", lead+i)
		}
		key := s[start:i]
		if i == len(s) || isSpace(s[i]) {
			addIfAbsent(ev, key, "true")
			continue
		}
		if s[i] == '"' {
			return fmt.Errorf("invalid logfmt at byte %d: quote in key", lead+i)
		}
		i++ // '='
		var v string
		if i < len(s) && s[i] == '"' {
			if v, i, err = p.quoted(s, i, lead); err != nil {
				return err
			}
			if i < len(s) && !isSpace(s[i]) {
				return fmt.Errorf("invalid logfmt at byte %d: expected space after quoted value", lead+i)
			}
		} else {
			vs := i
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			v = s[vs:i]
		}
		addIfAbsent(ev, key, v)
	}
	t, found, err := fieldTime(ev, p.timeField, p.times)
	if err != nil {
		return err
	}
	return p.clock.settle(ev, t, found)
}

// quoted reads the quoted value at s[i] == '"'.
func (p *logfmtParser) quoted(s string, i, lead int) (string, int, error) {
	j := i + 1
	for j < len(s) && s[j] != '"' && s[j] != '\\' {
		j++
	}
	if j < len(s) && s[j] == '"' {
		return s[i+1 : j], j + 1, nil
	}
	b := append(p.scratch[:0], s[i+1:j]...)
	for j < len(s) {
		c := s[j]
		if c == '"' {
			p.scratch = b
			return string(b), j + 1, nil
		}
		if c != '\\' || j+1 == len(s) {
			b = append(b, c)
			j++
			continue
		}
		switch e := s[j+1]; e {
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if r, ok := hex4(s, j+2); ok {
				b = utf8.AppendRune(b, r)
				j += 6
				continue
			}
			b = append(b, '\\', 'u')
		default: // \" \\ and anything else: the escaped byte itself
			b = append(b, e)
		}
		j += 2
	}
	return "", 0, fmt.Errorf("invalid logfmt at byte %d: unterminated quoted value", lead+i)
}
