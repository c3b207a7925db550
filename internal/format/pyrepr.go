package format

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/event"
)

// pyParser reads the repr() of a Python dict, as the MCP server logs its
// loop-detection events: {'event_type': 'loop_detected', 'call_count': 4,
// 'correlation_id': None}. Entries become fields: strings unescaped, None
// absent, True and False as "true" and "false" (as in JSON), numbers as
// written, nested dicts flattened to dotted keys, and anything else (lists,
// tuples, datetime(...) calls) as its raw text. The first of duplicate keys
// wins, including keys the event already has.
type pyParser struct {
	s   string
	i   int
	n   int
	buf []byte
}

var errPyRepr = errors.New("invalid python dict repr")

// dict adds the entries of the dict literal s (which starts with '{') to ev.
// On a syntax error the entries before it are kept.
func (p *pyParser) dict(s string, ev *event.Event) error {
	p.s, p.i, p.n = s, 0, 0
	return p.object("", 1, ev)
}

func (p *pyParser) object(prefix string, depth int, ev *event.Event) error {
	if depth > maxJSONDepth {
		return errPyRepr
	}
	p.i++ // '{'
	for {
		p.ws()
		if p.i >= len(p.s) {
			return errPyRepr
		}
		if p.s[p.i] == '}' {
			p.i++
			return nil
		}
		if p.n++; p.n > maxJSONFields {
			return errPyRepr
		}
		var key string
		if c := p.s[p.i]; c == '\'' || c == '"' {
			var err error
			if key, err = p.str(); err != nil {
				return err
			}
		} else if key = p.raw(); key == "" {
			return errPyRepr
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return errPyRepr
		}
		p.i++
		p.ws()
		if p.i >= len(p.s) {
			return errPyRepr
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		switch c := p.s[p.i]; {
		case c == '{':
			if err := p.object(key, depth+1, ev); err != nil {
				return err
			}
		case c == '\'' || c == '"':
			v, err := p.str()
			if err != nil {
				return err
			}
			addIfAbsent(ev, key, v)
		default:
			switch v := p.raw(); v {
			case "None":
			case "True":
				addIfAbsent(ev, key, "true")
			case "False":
				addIfAbsent(ev, key, "false")
			case "":
				return errPyRepr
			default:
				addIfAbsent(ev, key, v)
			}
		}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return nil
		}
		return errPyRepr
	}
}

func (p *pyParser) ws() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// raw returns the text of a value that is not a string or dict: up to the
// ',' or '}' (or ':' for a key) at bracket depth 0, skipping over strings.
func (p *pyParser) raw() string {
	s := p.s
	start, depth := p.i, 0
	for p.i < len(s) {
		c := s[p.i]
		switch {
		case c == '\'' || c == '"':
			if _, err := p.str(); err != nil {
				p.i = len(s)
			}
			continue
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth == 0 {
				return strings.TrimRight(s[start:p.i], " ")
			}
			depth--
		case (c == ',' || c == ':') && depth == 0:
			return strings.TrimRight(s[start:p.i], " ")
		}
		p.i++
	}
	return strings.TrimRight(s[start:], " ")
}

// str reads a quoted Python string literal at s[i].
func (p *pyParser) str() (string, error) {
	s := p.s
	q := s[p.i]
	start := p.i + 1
	j := start
	for j < len(s) && s[j] != q && s[j] != '\\' {
		j++
	}
	if j < len(s) && s[j] == q {
		p.i = j + 1
		return s[start:j], nil
	}
	b := append(p.buf[:0], s[start:j]...)
	for j < len(s) {
		c := s[j]
		if c == q {
			p.buf = b
			p.i = j + 1
			return string(b), nil
		}
		if c != '\\' || j+1 >= len(s) {
			b = append(b, c)
			j++
			continue
		}
		e := s[j+1]
		j += 2
		switch e {
		case '\\', '\'', '"':
			b = append(b, e)
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'a':
			b = append(b, '\a')
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'v':
			b = append(b, '\v')
		case 'x', 'u', 'U':
			n := 2
			if e == 'u' {
				n = 4
			} else if e == 'U' {
				n = 8
			}
			r, ok := hexN(s, j, n)
			if !ok {
				return "", errPyRepr
			}
			b = utf8.AppendRune(b, r)
			j += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			r := rune(e - '0')
			for k := 0; k < 2 && j < len(s) && s[j] >= '0' && s[j] <= '7'; k++ {
				r = r*8 + rune(s[j]-'0')
				j++
			}
			b = utf8.AppendRune(b, r)
		default: // Python keeps unknown escapes as written
			b = append(b, '\\', e)
		}
	}
	p.i = len(s)
	return "", errPyRepr
}

// hexN decodes n hex digits at s[i:].
func hexN(s string, i, n int) (rune, bool) {
	if i+n > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+n; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	if r > utf8.MaxRune {
		r = utf8.RuneError
	}
	return r, true
}
