package pattern

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Pattern is a parsed CloudWatch Logs filter pattern. Use Parse; a Pattern
// is immutable and safe for concurrent use.
type Pattern struct {
	src   string
	kind  patternKind
	text  textPattern // kindText
	json  node        // kindJSON
	delim *delimited  // kindDelimited
}

type patternKind int

const (
	kindAll       patternKind = iota // empty pattern: every event matches
	kindText                         // terms, quoted phrases, ?alternatives, -exclusions, or one %regex%
	kindJSON                         // { JSON property expression }
	kindDelimited                    // [field, field = value, ...]
)

// String returns the pattern's source text.
func (p *Pattern) String() string { return p.src }

// IsJSON reports whether p is a JSON property pattern ({ ... }).
func (p *Pattern) IsJSON() bool { return p.kind == kindJSON }

// SyntaxError is a filter-pattern parse error at a byte offset.
type SyntaxError struct {
	Offset int // 0-based byte offset into the pattern
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter pattern: column %d: %s", e.Offset+1, e.Msg)
}

func errAt(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// maxPatternBytes is CloudWatch's limit on a filter pattern's length.
const maxPatternBytes = 1024

// maxRegexes is CloudWatch's limit on %regex% values in one pattern.
const maxRegexes = 2

// Parse parses CloudWatch filter-pattern syntax: the empty pattern (every
// event), text patterns (terms, "quoted phrases", ?alternatives,
// -exclusions, or one %regex%) and JSON property patterns ({ $.a = "x" &&
// ($.b > 3 || $.c NOT EXISTS) }) and space-delimited patterns ([ip, user,
// ..., status = 4*]). Errors carry the byte offset.
func Parse(s string) (*Pattern, error) {
	if len(s) > maxPatternBytes {
		return nil, errAt(maxPatternBytes, "longer than %d bytes", maxPatternBytes)
	}
	p := &Pattern{src: s}
	i := skipSpace(s, 0)
	switch {
	case i == len(s):
		p.kind = kindAll
		return p, nil
	case s[i] == '{':
		n, err := parseJSON(s, i)
		if err != nil {
			return nil, err
		}
		p.kind, p.json = kindJSON, n
	case s[i] == '[':
		d, err := parseDelimited(s, i)
		if err != nil {
			return nil, err
		}
		p.kind, p.delim = kindDelimited, d
	default:
		t, err := parseText(s, i)
		if err != nil {
			return nil, err
		}
		p.kind, p.text = kindText, t
	}
	return p, nil
}

// MustParse is Parse for patterns known to be valid; it panics on error.
func MustParse(s string) *Pattern {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Match reports whether the raw log message matches, as CloudWatch would
// (see docs/alarms.md, "Filter patterns", for the semantics assumed where
// the AWS documentation is silent).
func (p *Pattern) Match(message []byte) bool {
	return p.MatchMessage(NewMessage(message))
}

// Message is a raw log message prepared for matching against several
// patterns: its JSON is decoded at most once. It is not safe for
// concurrent use.
type Message struct {
	raw     []byte
	text    string
	root    map[string]any
	decoded bool
	isObj   bool
}

// NewMessage wraps raw, which must not change while the Message is in use.
func NewMessage(raw []byte) *Message { return &Message{raw: raw, text: string(raw)} }

func (m *Message) object() (map[string]any, bool) {
	if !m.decoded {
		m.root, m.isObj = decodeObject(m.raw)
		m.decoded = true
	}
	return m.root, m.isObj
}

// MatchMessage is Match for a prepared message.
func (p *Pattern) MatchMessage(m *Message) bool {
	switch p.kind {
	case kindAll:
		return true
	case kindText:
		return p.text.match(m.text)
	case kindDelimited:
		return p.delim.match(m.text)
	case kindJSON:
		root, ok := m.object()
		if !ok {
			return false // a JSON pattern never matches a message that is not a JSON object
		}
		return p.json.eval(root)
	}
	return false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// textPattern: every term in all is in the message, at least one of any
// (when there are any), none of none; or, when re is set, the regex finds
// a match. Terms are case-sensitive substrings.
type textPattern struct {
	all, any, none []string
	re             *regexp.Regexp
}

func (t *textPattern) match(m string) bool {
	if t.re != nil {
		return t.re.MatchString(m)
	}
	for _, s := range t.all {
		if !strings.Contains(m, s) {
			return false
		}
	}
	for _, s := range t.none {
		if strings.Contains(m, s) {
			return false
		}
	}
	if len(t.any) == 0 {
		return true
	}
	for _, s := range t.any {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func isTermByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseText parses a text pattern starting at s[i] (not white space).
func parseText(s string, i int) (textPattern, error) {
	var t textPattern
	n := 0
	for i < len(s) {
		start := i
		prefix := byte(0)
		if s[i] == '?' || s[i] == '-' {
			prefix = s[i]
			i++
		}
		var term string
		switch {
		case i < len(s) && s[i] == '%':
			if prefix != 0 || n > 0 {
				return t, errAt(start, "a %%regex%% must be the whole text pattern")
			}
			re, j, err := parseRegex(s, i)
			if err != nil {
				return t, err
			}
			if k := skipSpace(s, j); k != len(s) {
				return t, errAt(k, "a %%regex%% must be the whole text pattern")
			}
			t.re = re
			return t, nil
		case i < len(s) && s[i] == '"':
			q, j, err := parseQuoted(s, i)
			if err != nil {
				return t, err
			}
			if q == "" {
				return t, errAt(i, "empty quoted term")
			}
			term, i = q, j
		default:
			j := i
			for j < len(s) && isTermByte(s[j]) {
				j++
			}
			if j == i {
				if i >= len(s) || s[i] == ' ' || s[i] == '\t' {
					return t, errAt(start, "%q must be followed by a term", string(prefix))
				}
				return t, errAt(i, "unexpected %q: terms with characters other than letters, digits and _ must be in double quotes", s[i])
			}
			if j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
				return t, errAt(j, "unexpected %q: terms with characters other than letters, digits and _ must be in double quotes", s[j])
			}
			term, i = s[i:j], j
		}
		if i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			return t, errAt(i, "expected white space after term")
		}
		switch prefix {
		case '?':
			t.any = append(t.any, term)
		case '-':
			t.none = append(t.none, term)
		default:
			t.all = append(t.all, term)
		}
		n++
		i = skipSpace(s, i)
	}
	return t, nil
}

// parseQuoted reads the double-quoted string at s[i] == '"'. Inside, \"
// stands for " and \\ for \; any other byte is literal.
func parseQuoted(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '"':
			return b.String(), j + 1, nil
		case '\\':
			if j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
				b.WriteByte(s[j+1])
				j++
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errAt(i, "unterminated quoted string")
}

// parseNumber reports whether tok is a filter-pattern number: an integer or
// decimal with an optional sign and an optional exponent.
func parseNumber(tok string) (float64, bool) {
	i := 0
	if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
		i++
	}
	digits := 0
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
		digits++
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		d := i
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false
		}
	}
	if i != len(tok) {
		return 0, false
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}
