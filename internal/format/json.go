package format

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/secwatch/secwatch/internal/event"
)

// Bounds on hostile JSON. A line is at most MaxLineBytes long already; these
// bound the recursion depth and the size of an event.
const (
	maxJSONDepth  = 64
	maxJSONFields = 4096
)

// jsonParser is the json format: one object per line, flattened.
type jsonParser struct {
	timeField string
	times     *timeParser // nil: event.ParseTime
	clock
	f      flattener
	borrow bool // Options.Borrow: values point into the caller's line buffer
	plain  bool // Options.PlainText

	full   flattener   // ExpandLine's, reused
	fullEv event.Event // ExpandLine's scratch
}

func newJSONParser(timeField string) *jsonParser {
	return &jsonParser{timeField: timeField}
}

func (p *jsonParser) Parse(line []byte, ev *event.Event) error {
	if p.plain {
		if i, j := trimBounds(line); i < j && line[i] != '{' {
			ev.Add("message", string(line[i:j]))
			return p.clock.settle(ev, time.Time{}, false)
		}
	}
	var s string
	var lead int
	if p.borrow {
		i, j := trimBounds(line)
		if i == j {
			return ErrEmptyLine
		}
		// Valid until the caller reads the next line (Options.Borrow).
		s, lead = unsafe.String(&line[i], j-i), i
	} else {
		var err error
		if s, lead, err = lineString(line); err != nil {
			return err
		}
	}
	if err := p.f.flatten(s, lead, ev); err != nil {
		return err
	}
	t, found, err := fieldTime(ev, p.timeField, p.times)
	if err != nil {
		return err
	}
	return p.clock.settle(ev, t, found)
}

// expandFrom completes ev with every field of s, the trimmed line (lead
// bytes trimmed before it).
func (p *jsonParser) expandFrom(ev *event.Event, s string, lead int) error {
	full := &p.fullEv
	full.Reset()
	if err := p.full.flatten(s, lead, full); err != nil {
		return err
	}
	for _, fl := range ev.Fields {
		full.Set(fl.Key, fl.Value)
	}
	// Into ev's own array, which grows once and is then reused.
	ev.Fields = append(ev.Fields[:0], full.Fields...)
	clear(full.Fields)
	return nil
}

// ExpandLine completes ev, made by Parse of line under Options.Fields (by
// this parser or another of the same options, however many lines ago),
// with every other field of the line, as Parse without Fields would have
// made it; fields the caller set after Parse (such as @source) keep their
// values. Replay's pipeline hands each event over with a copy of its line.
// Under Options.Borrow the values it adds point into line. Without Fields,
// or for a line Parse did not take as a JSON object (empty, or plain text
// under Options.PlainText), it does nothing.
func (p *jsonParser) ExpandLine(ev *event.Event, line []byte) error {
	if p.f.want == nil {
		return nil
	}
	i, j := trimBounds(line)
	if i == j || (p.plain && line[i] != '{') {
		return nil
	}
	var s string
	if p.borrow {
		s = unsafe.String(&line[i], j-i)
	} else {
		s = string(line[i:j])
	}
	return p.expandFrom(ev, s, i)
}

// LineExpander is implemented by parsers that can complete an event made
// under Options.Fields from a line given again (ExpandLine), so that the
// parser need not have parsed it last.
type LineExpander interface {
	ExpandLine(ev *event.Event, line []byte) error
}

// flattener turns one JSON object into event fields without encoding/json:
// a single pass over the string, no reflection, and no allocation beyond
// strings that contain escapes and (once per distinct shape) dotted keys.
//
// Values: strings unescaped; numbers, true and false as their literal text;
// null skipped (the field is absent); arrays as their raw JSON text, because
// rules compare scalars and an array has no single scalar to compare, while
// its text still serves contains/regex matches and samples. Nested objects
// become dotted keys ("details.failure_type"). The first of duplicate keys
// wins. The zero value is ready for use; a flattener is reused line after
// line by one parser.
type flattener struct {
	s    string
	lead int // bytes trimmed before s, for error offsets
	ev   *event.Event
	n    int // members seen in this object, at any depth

	prefix  []byte            // dotted prefix of the object being read
	scratch []byte            // unescaping buffer
	intern  map[string]string // dotted keys already built, so repeated shapes do not allocate
	seen    map[string]struct{}
	useSeen bool // large objects check duplicates in seen instead of scanning Fields

	// want, when not nil, lists the only keys (dotted) to add; the rest of
	// the line is still validated and counted (Options.Fields).
	want  []string
	byLen [][]string // want by key length, for keys shorter than len(byLen)
}

// setProjection makes the flattener add only fields (and the time field:
// timeField, or all of event.TimeFields, and event_type, which replay
// counts). A nil fields means every field.
func (f *flattener) setProjection(fields []string, timeField string) {
	if fields == nil {
		f.want = nil
		return
	}
	want := append([]string{"event_type"}, fields...)
	if timeField != "" {
		want = append(want, timeField)
	} else {
		want = append(want, event.TimeFields...)
	}
	f.want = f.want[:0]
	for _, w := range want {
		dup := false
		for _, x := range f.want {
			dup = dup || x == w
		}
		if !dup {
			f.want = append(f.want, w)
		}
	}
	f.byLen = nil
	for _, w := range f.want {
		if len(w) >= 256 {
			continue // looked up by the slow path
		}
		for len(f.byLen) <= len(w) {
			f.byLen = append(f.byLen, nil)
		}
		f.byLen[len(w)] = append(f.byLen[len(w)], w)
	}
}

// wanted returns the key prefix+key as one of want's strings, or false.
// It builds nothing: no string, no map lookup.
func (f *flattener) wanted(key string) (string, bool) {
	p := f.prefix
	n := len(p) + len(key)
	cands := f.want
	if n < 256 {
		if n >= len(f.byLen) {
			return "", false
		}
		cands = f.byLen[n]
	}
	for _, w := range cands {
		if len(w) == n && (len(key) == 0 || w[len(p)] == key[0]) && w[len(p):] == key && w[:len(p)] == string(p) {
			return w, true
		}
	}
	return "", false
}

const (
	maxInternedKeys = 1024
	// Below this many fields a linear scan finds duplicates faster than a
	// map; above it the scan would make hostile lines quadratic.
	linearDupLimit = 32
)

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("invalid json at byte %d: %s", e.off, e.msg) }

func (f *flattener) fail(i int, msg string) error {
	return &jsonError{off: f.lead + i, msg: msg}
}

// flatten adds the members of the JSON object s to ev. s must hold exactly
// one object, optionally surrounded by white space.
func (f *flattener) flatten(s string, lead int, ev *event.Event) error {
	f.s, f.lead, f.ev, f.n = s, lead, ev, 0
	f.prefix = f.prefix[:0]
	if f.useSeen {
		clear(f.seen)
		f.useSeen = false
	}
	i := skipWS(s, 0)
	if i == len(s) || s[i] != '{' {
		return f.fail(i, "not a json object")
	}
	i, err := f.object(i, 1)
	if err != nil {
		return err
	}
	if i = skipWS(s, i); i != len(s) {
		return f.fail(i, "unexpected data after object")
	}
	return nil
}

// object reads the object at s[i] == '{' and returns the index after it.
func (f *flattener) object(i, depth int) (int, error) {
	s := f.s
	if depth > maxJSONDepth {
		return 0, f.fail(i, fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, f.fail(i, "expected string key")
		}
		key, j, err := f.str(i)
		if err != nil {
			return 0, err
		}
		i = skipWS(s, j)
		if i >= len(s) || s[i] != ':' {
			return 0, f.fail(i, "expected ':' after key")
		}
		i = skipWS(s, i+1)
		if f.n++; f.n > maxJSONFields {
			return 0, f.fail(i, fmt.Sprintf("more than %d fields", maxJSONFields))
		}
		if i >= len(s) {
			return 0, f.fail(i, "unexpected end of line")
		}
		if f.want != nil && s[i] != '{' {
			w, ok := f.wanted(key)
			if !ok {
				if i, err = f.skipValue(i, depth); err != nil {
					return 0, err
				}
				goto next
			}
			if i, err = f.leaf(w, false, i, depth); err != nil {
				return 0, err
			}
			goto next
		}
		if s[i] == '{' {
			mark := len(f.prefix)
			f.prefix = append(append(f.prefix, key...), '.')
			i, err = f.object(i, depth+1)
			f.prefix = f.prefix[:mark]
			if err != nil {
				return 0, err
			}
		} else if i, err = f.leaf(key, true, i, depth); err != nil {
			return 0, err
		}
	next:
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, f.fail(i, "unexpected end of line")
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, f.fail(i, "expected ',' or '}'")
		}
	}
}

// leaf reads the value at s[i] (not an object) and adds it under key: a
// key of the current object when dot (the object's prefix is put before
// it), else already the full dotted key (a wanted field). null adds
// nothing; an array is kept as its JSON text.
func (f *flattener) leaf(key string, dot bool, i, depth int) (int, error) {
	s := f.s
	var err error
	switch c := s[i]; {
	case c == '"':
		var v string
		if v, i, err = f.str(i); err != nil {
			return 0, err
		}
		f.put(key, dot, v)
	case c == '[':
		start := i
		if i, err = f.skipArray(i, depth+1); err != nil {
			return 0, err
		}
		f.put(key, dot, s[start:i])
	case c == 'n':
		if !strings.HasPrefix(s[i:], "null") {
			return 0, f.fail(i, "invalid literal")
		}
		i += 4
	case c == 't' || c == 'f':
		lit := "true"
		if c == 'f' {
			lit = "false"
		}
		if !strings.HasPrefix(s[i:], lit) {
			return 0, f.fail(i, "invalid literal")
		}
		f.put(key, dot, lit)
		i += len(lit)
	default:
		start := i
		if i, err = f.number(i); err != nil {
			return 0, err
		}
		f.put(key, dot, s[start:i])
	}
	return i, nil
}

// add adds a leaf, composing its dotted key inside nested objects.
func (f *flattener) add(key, value string) {
	if len(f.prefix) > 0 {
		key = f.dotted(key)
	}
	f.addKey(key, value)
}

// put adds a leaf: under the current object's prefix when dot.
func (f *flattener) put(key string, dot bool, value string) {
	if dot {
		f.add(key, value)
	} else {
		f.addKey(key, value)
	}
}

// addKey adds a leaf under its full key unless the key was seen before.
func (f *flattener) addKey(key, value string) {
	ev := f.ev
	if f.useSeen {
		if _, dup := f.seen[key]; dup {
			return
		}
		f.seen[key] = struct{}{}
		ev.Add(key, value)
		return
	}
	for i := range ev.Fields {
		if ev.Fields[i].Key == key {
			return
		}
	}
	ev.Add(key, value)
	if len(ev.Fields) >= linearDupLimit {
		if f.seen == nil {
			f.seen = make(map[string]struct{}, 2*linearDupLimit)
		}
		for i := range ev.Fields {
			f.seen[ev.Fields[i].Key] = struct{}{}
		}
		f.useSeen = true
	}
}

// dotted returns prefix+key, reusing a string built for an earlier line.
func (f *flattener) dotted(key string) string {
	mark := len(f.prefix)
	f.prefix = append(f.prefix, key...)
	k, ok := f.intern[string(f.prefix)] // no allocation for the lookup
	if !ok {
		k = string(f.prefix)
		if f.intern == nil {
			f.intern = make(map[string]string)
		}
		if len(f.intern) < maxInternedKeys {
			f.intern[k] = k
		}
	}
	f.prefix = f.prefix[:mark]
	return k
}

// strStop marks the bytes that end the fast path of a string scan.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// plainRun returns the index of the first 8-byte word of s from i on that
// may hold a byte of strStop (a quote, a backslash or a control character),
// or of the last incomplete word: the bytes before it need no care in a
// string. It tests eight bytes at a time (SWAR): for a word x, a byte is
// zero in x^q (equal to q) or below 0x20 in x exactly when the classic
// "has a zero byte" / "has a byte less than n" tests set its high bit, and
// those tests never miss one (they may flag a later byte: the caller goes
// on byte by byte from the word returned, so that costs nothing).
func plainRun(s string, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := x ^ (ones * '"')
		b := x ^ (ones * '\\')
		if ((q-ones)&^q|(b-ones)&^b|(x-ones*0x20)&^x)&highs != 0 {
			return i
		}
	}
	return i
}

// str reads the string at s[i] == '"' and returns its value and the index
// after the closing quote. A string without escapes is a substring of s.
func (f *flattener) str(i int) (string, int, error) {
	s := f.s
	j := plainRun(s, i+1)
	for j < len(s) && !strStop[s[j]] {
		j++
	}
	if j < len(s) && s[j] == '"' {
		return s[i+1 : j], j + 1, nil
	}
	return f.unescape(i+1, j)
}

// unescape continues a string scan at s[j], the first byte needing care,
// for the string whose content starts at s[start].
func (f *flattener) unescape(start, j int) (string, int, error) {
	s := f.s
	b := append(f.scratch[:0], s[start:j]...)
	for {
		if j >= len(s) {
			return "", 0, f.fail(j, "unterminated string")
		}
		c := s[j]
		switch {
		case c == '"':
			f.scratch = b
			return string(b), j + 1, nil
		case c < 0x20:
			return "", 0, f.fail(j, "control character in string")
		case c != '\\':
			b = append(b, c)
			j++
			continue
		}
		if j+1 >= len(s) {
			return "", 0, f.fail(j, "unterminated string")
		}
		switch e := s[j+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, j+2)
			if !ok {
				return "", 0, f.fail(j, "invalid \\u escape")
			}
			j += 6
			if utf16IsHigh(r) {
				if r2, ok := hex4(s, j+2); ok && j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' && utf16IsLow(r2) {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					j += 6
				} else {
					r = utf8.RuneError // lone surrogate, as encoding/json does
				}
			} else if utf16IsLow(r) {
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", 0, f.fail(j, "invalid escape")
		}
		j += 2
	}
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

// hex4 decodes the four hex digits at s[i:i+4].
func hex4(s string, i int) (rune, bool) { return hexN(s, i, 4) }

// strEnd validates the string at s[i] == '"' without building its value
// and returns the index after it.
func (f *flattener) strEnd(i int) (int, error) {
	s := f.s
	for j := plainRun(s, i+1); j < len(s); {
		c := s[j]
		switch {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, f.fail(j, "control character in string")
		case c == '\\':
			if j+1 >= len(s) {
				return 0, f.fail(j, "unterminated string")
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := hex4(s, j+2); !ok {
					return 0, f.fail(j, "invalid \\u escape")
				}
				j += 6
			default:
				return 0, f.fail(j, "invalid escape")
			}
		default:
			j++
		}
	}
	return 0, f.fail(len(s), "unterminated string")
}

// number validates the JSON number at s[i] and returns the index after it.
func (f *flattener) number(i int) (int, error) {
	s := f.s
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	default:
		return 0, f.fail(i, "invalid value")
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || !isDigit(s[j]) {
			return 0, f.fail(j, "invalid number")
		}
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || !isDigit(s[j]) {
			return 0, f.fail(j, "invalid number")
		}
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	return j, nil
}

// skipArray validates the array at s[i] == '[' and returns the index after
// it.
func (f *flattener) skipArray(i, depth int) (int, error) {
	s := f.s
	if depth > maxJSONDepth {
		return 0, f.fail(i, fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = f.skipValue(i, depth); err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = f.afterElement(i, ']'); done || err != nil {
			return i, err
		}
	}
}

// skipObject validates an object inside an array.
func (f *flattener) skipObject(i, depth int) (int, error) {
	s := f.s
	if depth > maxJSONDepth {
		return 0, f.fail(i, fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, f.fail(i, "expected string key")
		}
		var err error
		if i, err = f.strEnd(i); err != nil {
			return 0, err
		}
		i = skipWS(s, i)
		if i >= len(s) || s[i] != ':' {
			return 0, f.fail(i, "expected ':' after key")
		}
		if i, err = f.skipValue(skipWS(s, i+1), depth); err != nil {
			return 0, err
		}
		var done bool
		if i, done, err = f.afterElement(i, '}'); done || err != nil {
			return i, err
		}
	}
}

// afterElement reads what follows an element of an array or object
// closed by closer: a ',' (it returns the next element's start) or closer
// (it returns the index after it, and done).
func (f *flattener) afterElement(i int, closer byte) (next int, done bool, err error) {
	s := f.s
	i = skipWS(s, i)
	switch {
	case i >= len(s):
		return 0, false, f.fail(i, "unexpected end of line")
	case s[i] == ',':
		return skipWS(s, i+1), false, nil
	case s[i] == closer:
		return i + 1, true, nil
	}
	return 0, false, f.fail(i, fmt.Sprintf("expected ',' or '%c'", closer))
}

func (f *flattener) skipValue(i, depth int) (int, error) {
	s := f.s
	if i >= len(s) {
		return 0, f.fail(i, "unexpected end of line")
	}
	switch s[i] {
	case '"':
		return f.strEnd(i)
	case '{':
		return f.skipObject(i, depth+1)
	case '[':
		return f.skipArray(i, depth+1)
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(s[i:], lit) {
				return i + len(lit), nil
			}
		}
		return 0, f.fail(i, "invalid literal")
	}
	return f.number(i)
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
