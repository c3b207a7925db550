package rules

import (
	"net/netip"

	"github.com/secwatch/secwatch/internal/event"
)

// FieldsRead returns the names of every event field that rs read: match
// conditions (sequence steps included), group_by and distinct fields, and
// @source (an alert's source). A parser that extracts only these fields
// gives the engine the same decisions as one that extracts them all; only
// alert samples need the rest (Engine.Expand). The result is never nil.
func FieldsRead(rs []*Rule) []string {
	out := []string{"@source"}
	seen := map[string]bool{"@source": true}
	add := func(names ...string) {
		for _, n := range names {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, r := range rs {
		add(r.Match.Fields(nil)...)
		add(r.GroupBy...)
		add(r.Distinct)
		for i := range r.Steps {
			add(r.Steps[i].Match.Fields(nil)...)
		}
	}
	return out
}

// expand completes ev (Engine.Expand) once per observed event, before the
// engine keeps a copy of it as a sample.
func (e *Engine) expand(ev *event.Event) {
	if e.Expand == nil || e.expanded == e.seq {
		return
	}
	e.expanded = e.seq
	e.Expand(ev)
}

// groupValue returns v as group keys and distinct values compare it: the
// text as written, except an IPv6 address, which becomes its canonical text
// (an IPv4-mapped address the IPv4 address), so that one client is one group
// however its address is spelt. IPv4 text that parses is already canonical;
// numbers are not normalised (401 and 401.0 are two values). It allocates
// only for an address not written canonically.
func groupValue(v string) string {
	if !maybeIPv6(v) {
		return v
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return v
	}
	var buf [64]byte
	b := a.Unmap().AppendTo(buf[:0])
	if string(b) == v {
		return v
	}
	return string(b)
}

// maybeIPv6 reports whether v could be IPv6 text: a colon among the first
// 5 bytes, and before any zone ("%eth0") only hex digits, colons and dots,
// at most 45 of them. It spares ordinary text the parse, whose error
// allocates.
func maybeIPv6(v string) bool {
	colon := false
	for i := 0; i < len(v); i++ { // one pass: most values fail at once
		c := v[i]
		if c == '%' {
			return colon
		}
		if i == 45 || i == 5 && !colon { // IPv6 text has a colon within its first 5 bytes
			return false
		}
		switch {
		case c == ':':
			colon = true
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '.':
		default:
			return false
		}
	}
	return colon
}
