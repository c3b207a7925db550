// Package event is the leaf of secwatch's dependency map: the Event type that
// sources produce and the rule engine consumes, plus the timestamp and number
// parsing that every parser shares.
//
// An Event is a timestamp and a flat list of fields. Values keep their literal
// text; nested JSON objects are flattened to dotted keys ("details.origin").
// Fields whose names start with "@" are set by secwatch itself (@source,
// @file, @line, @log_group, @log_stream, @event_id).
//
// Events are plain values with no internal locking. A parser may reuse an
// Event (and its Fields backing array) between lines; whoever keeps an event
// beyond the call that handed it over must Clone it.
package event

import (
	"strconv"
	"time"
)

// Field is one key and its literal value.
type Field struct {
	Key   string
	Value string
}

// Event is one parsed log record.
type Event struct {
	// Time is the event's own timestamp (never the time it was read).
	Time time.Time
	// Fields in the order the parser found them. Keys are unique: Set
	// replaces an existing key.
	Fields []Field
}

// Get returns the value of key and whether it is present. Events carry tens
// of fields at most, so a linear scan beats a map.
func (e *Event) Get(key string) (string, bool) {
	for i := range e.Fields {
		if e.Fields[i].Key == key {
			return e.Fields[i].Value, true
		}
	}
	return "", false
}

// Set sets key to value, replacing an existing value.
func (e *Event) Set(key, value string) {
	for i := range e.Fields {
		if e.Fields[i].Key == key {
			e.Fields[i].Value = value
			return
		}
	}
	e.Fields = append(e.Fields, Field{Key: key, Value: value})
}

// Add appends a field without checking for an existing key. Parsers use it
// when they know the key is new (the first occurrence wins in Get).
func (e *Event) Add(key, value string) {
	e.Fields = append(e.Fields, Field{Key: key, Value: value})
}

// Reset empties the event, keeping the Fields backing array for reuse.
func (e *Event) Reset() {
	e.Time = time.Time{}
	e.Fields = e.Fields[:0]
}

// Clone returns a deep copy whose Fields do not share memory with e.
func (e *Event) Clone() Event {
	c := Event{Time: e.Time}
	if len(e.Fields) > 0 {
		c.Fields = make([]Field, len(e.Fields))
		copy(c.Fields, e.Fields)
	}
	return c
}

// Map returns the fields as a map (for rendering; not for the hot path).
func (e *Event) Map() map[string]string {
	m := make(map[string]string, len(e.Fields))
	for _, f := range e.Fields {
		if _, dup := m[f.Key]; !dup {
			m[f.Key] = f.Value
		}
	}
	return m
}

// Number parses s as a decimal number: an optional sign, digits with an
// optional fraction (".5" and "5." too), and an optional exponent ("4.01e2").
// It reports false for anything else, including "NaN", "+Inf", hexadecimal
// ("0x1p4"), digit separators ("1_000"), surrounding spaces and values out
// of float64's range, so that only real numbers take part in numeric
// comparisons.
func Number(s string) (float64, bool) {
	if !isDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// isDecimal reports whether s is [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
