package pattern

import (
	"strings"
)

// delimited is a space-delimited pattern: [slot, slot, ...]. A slot is a
// field name, a condition or conditions joined by && and || (the slot's
// name is the first condition's), "..." (any number of fields; at most one
// per pattern), or empty (an unnamed field).
type delimited struct {
	slots    []dslot
	ellipsis int // index of the "..." slot, or -1
}

type dslot struct {
	name string
	expr dnode // nil: any value
}

// dnode is a condition tree over named fields.
type dnode = condition[map[string]string]

type dcond struct {
	name string
	c    cond
}

func (d *dcond) eval(f map[string]string) bool {
	v, ok := f[d.name]
	return ok && d.c.evalText(v)
}

// splitFields splits a message at runs of spaces; a field that starts with
// '"' or '[' runs to the matching '"' or ']' (which are dropped), spaces
// included, as the AWS documentation describes for access logs.
func splitFields(m string) []string {
	var out []string
	i := 0
	for {
		for i < len(m) && (m[i] == ' ' || m[i] == '\t') {
			i++
		}
		if i >= len(m) {
			return out
		}
		if c := m[i]; c == '"' || c == '[' {
			end := byte('"')
			if c == '[' {
				end = ']'
			}
			if j := strings.IndexByte(m[i+1:], end); j >= 0 {
				out = append(out, m[i+1:i+1+j])
				i += j + 2
				continue
			}
		}
		j := i
		for j < len(m) && m[j] != ' ' && m[j] != '\t' {
			j++
		}
		out = append(out, m[i:j])
		i = j
	}
}

func (d *delimited) match(m string) bool {
	fields := splitFields(m)
	k := len(d.slots)
	named := make(map[string]string, k)
	bind := func(s dslot, v string) {
		if s.name != "" {
			if _, dup := named[s.name]; !dup {
				named[s.name] = v
			}
		}
	}
	if d.ellipsis < 0 {
		if len(fields) != k {
			return false
		}
		for i, s := range d.slots {
			bind(s, fields[i])
		}
	} else {
		if len(fields) < k-1 {
			return false
		}
		for i := 0; i < d.ellipsis; i++ {
			bind(d.slots[i], fields[i])
		}
		after := k - 1 - d.ellipsis
		for i := 0; i < after; i++ {
			bind(d.slots[d.ellipsis+1+i], fields[len(fields)-after+i])
		}
	}
	for _, s := range d.slots {
		if s.expr != nil && !s.expr.eval(named) {
			return false
		}
	}
	return true
}

// parseDelimited parses the pattern starting at s[i] == '['.
func parseDelimited(s string, i int) (*delimited, error) {
	p := &jsonParser{s: s, i: i + 1, delimited: true}
	d := &delimited{ellipsis: -1}
	var refs []nameRef
	for {
		p.space()
		if p.i >= len(s) {
			return nil, errAt(p.i, "missing closing ']'")
		}
		switch {
		case s[p.i] == ',' || s[p.i] == ']':
			d.slots = append(d.slots, dslot{}) // an unnamed field
		case strings.HasPrefix(s[p.i:], "..."):
			if d.ellipsis >= 0 {
				return nil, errAt(p.i, "only one ... is supported")
			}
			d.ellipsis = len(d.slots)
			d.slots = append(d.slots, dslot{})
			p.i += 3
		default:
			var names []nameRef
			expr, err := p.dor(&names)
			if err != nil {
				return nil, err
			}
			refs = append(refs, names...)
			slot := dslot{name: names[0].name}
			if _, bare := expr.(*dcond); !bare || expr.(*dcond).c.op != opAny {
				slot.expr = expr
			}
			d.slots = append(d.slots, slot)
		}
		p.space()
		if p.i >= len(s) {
			return nil, errAt(p.i, "missing closing ']'")
		}
		if s[p.i] == ']' {
			p.i++
			break
		}
		if s[p.i] != ',' {
			return nil, errAt(p.i, "expected ',' or ']', found %s", p.found())
		}
		p.i++
		if q := skipSpace(s, p.i); q < len(s) && s[q] == ']' {
			// A trailing comma: the last field is unnamed.
			d.slots = append(d.slots, dslot{})
			p.i = q + 1
			break
		}
	}
	if j := skipSpace(s, p.i); j != len(s) {
		return nil, errAt(j, "unexpected text after the closing ']'")
	}
	declared := map[string]bool{}
	for _, sl := range d.slots {
		declared[sl.name] = sl.name != ""
	}
	for _, r := range refs {
		if !declared[r.name] {
			return nil, errAt(r.at, "condition on %q, which names no field of the pattern", r.name)
		}
	}
	return d, nil
}

// nameRef is a field name used in a condition, with its offset.
type nameRef struct {
	name string
	at   int
}

// opAny marks a bare field name: no condition.
const opAny condOp = -1

// dor parses a slot's conditions joined by && and ||, recording the
// field names they use.
func (p *jsonParser) dor(names *[]nameRef) (dnode, error) {
	return parseOr(p, func() (dnode, error) { return p.dcond(names) })
}

func (p *jsonParser) dcond(names *[]nameRef) (dnode, error) {
	p.space()
	s := p.s
	at := p.i
	j := p.i
	for j < len(s) && isTermByte(s[j]) {
		j++
	}
	if j == p.i {
		return nil, errAt(p.i, "expected a field name (letters, digits and _), found %s", p.found())
	}
	d := &dcond{name: s[p.i:j]}
	*names = append(*names, nameRef{d.name, at})
	p.i = j
	p.space()
	switch {
	case strings.HasPrefix(s[p.i:], "!="):
		d.c.op, p.i = opNe, p.i+2
	case strings.HasPrefix(s[p.i:], "<="):
		d.c.op, p.i = opLe, p.i+2
	case strings.HasPrefix(s[p.i:], ">="):
		d.c.op, p.i = opGe, p.i+2
	case strings.HasPrefix(s[p.i:], "="):
		d.c.op, p.i = opEq, p.i+1
	case strings.HasPrefix(s[p.i:], "<"):
		d.c.op, p.i = opLt, p.i+1
	case strings.HasPrefix(s[p.i:], ">"):
		d.c.op, p.i = opGt, p.i+1
	default:
		if len(*names) > 1 || p.peek("&&") || p.peek("||") {
			return nil, errAt(p.i, "expected an operator after %q", d.name)
		}
		d.c.op = opAny
		return d, nil
	}
	if err := p.value(&d.c); err != nil {
		return nil, err
	}
	return d, nil
}
