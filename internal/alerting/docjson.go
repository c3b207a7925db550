package alerting

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendDocumentJSON appends json.Marshal(d) to b, byte for byte, without
// reflection: the fields in Document's order under their tag names,
// omitempty as the tags say, maps with their keys sorted, nil maps as null,
// strings escaped as encoding/json escapes them (HTML-safe, U+2028 and
// U+2029 escaped, invalid UTF-8 as \ufffd). TestDocumentJSONMatchesMarshal
// holds it to json.Marshal; a field added to Document must be added here.
func appendDocumentJSON(b []byte, d *Document) []byte {
	b = append(b, `{"alert_id":`...)
	b = appendJSONString(b, d.AlertID)
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, d.Rule)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, d.Title)
	b = append(b, `,"severity":`...)
	b = appendJSONString(b, d.Severity)
	b = append(b, `,"group":`...)
	b = appendJSONMap(b, d.Group)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(d.Count), 10)
	b = append(b, `,"threshold":`...)
	b = strconv.AppendInt(b, int64(d.Threshold), 10)
	b = append(b, `,"window":`...)
	b = appendJSONString(b, d.Window)
	b = append(b, `,"time":`...)
	b = appendJSONString(b, d.Time)
	b = append(b, `,"first_seen":`...)
	b = appendJSONString(b, d.FirstSeen)
	if len(d.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b = appendJSONMap(b, d.Labels)
	}
	if d.Description != "" {
		b = append(b, `,"description":`...)
		b = appendJSONString(b, d.Description)
	}
	if d.Runbook != "" {
		b = append(b, `,"runbook":`...)
		b = appendJSONString(b, d.Runbook)
	}
	if len(d.Samples) > 0 {
		b = append(b, `,"samples":[`...)
		for i, m := range d.Samples {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONMap(b, m)
		}
		b = append(b, ']')
	}
	if d.Source != "" {
		b = append(b, `,"source":`...)
		b = appendJSONString(b, d.Source)
	}
	if d.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	return append(b, '}')
}

// appendJSONMap appends m as encoding/json writes a map[string]string:
// null when nil, else its keys in sorted order (strings.Compare).
func appendJSONMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var stack [32]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are with
// HTML escaping on: 0x20 to 0x7f (DEL included) but '"', '\\', '<', '>'
// and '&' (its htmlSafeSet).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const lowerHex = "0123456789abcdef"

// appendJSONString is encoding/json's appendString with escapeHTML set.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control bytes, '<', '>', '&'
				b = append(b, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', lowerHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
