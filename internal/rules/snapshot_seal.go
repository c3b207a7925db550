package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
)

// A snapshot holds nothing an alert would redact (docs/security.md, "State
// at rest"): sample values are stored redacted (alerts render them redacted
// anyway, and redaction is idempotent), and a group_by or distinct value
// that redaction would change is stored sealed: a keyed digest that lets a
// restarted engine recognise the value when it is seen again (unsealGroup,
// unsealDistinct), so its window survives the restart.

// sealPrefix starts a sealed value.
const sealPrefix = redact.Mask + " hmac-sha256:"

// redactor is redact.Value memoized over one snapshot encoding: field
// names and values recur from group to group (event types, paths, a
// distinct rule's values), and redacting each afresh would triple the
// encoding's time. A nil *redactor calls redact.Value.
type redactor struct {
	secret map[string]bool   // field name → redact.SecretName
	text   map[string]string // value → redact.Text
}

func newRedactor() *redactor {
	return &redactor{secret: map[string]bool{}, text: map[string]string{}}
}

// value is redact.Value(key, v). Only recurring values are worth
// remembering: a group's values (unique by definition) are not (once).
func (r *redactor) value(key, v string, once bool) string {
	switch {
	case r == nil:
		return redact.Value(key, v)
	case v == "":
		return v
	case r.secretName(key):
		return redact.Mask
	case once:
		return redact.Text(v)
	}
	return r.textOf(v)
}

// valueBytes is value for a key and value held in a sample's buffer.
func (r *redactor) valueBytes(key, v []byte) string {
	if len(v) != 0 && r.secretName(string(key)) {
		return redact.Mask
	}
	if t, ok := r.text[string(v)]; ok {
		return t
	}
	return r.textOf(string(v))
}

func (r *redactor) secretName(key string) bool {
	s, ok := r.secret[key]
	if !ok {
		s = redact.SecretName(key)
		if len(r.secret) < maxNames {
			r.secret[strings.Clone(key)] = s
		}
	}
	return s
}

func (r *redactor) textOf(v string) string {
	t, ok := r.text[v]
	if !ok {
		t = redact.Text(v)
		if len(r.text) < maxNames {
			r.text[strings.Clone(v)] = t
		}
	}
	return t
}

// sealValue returns v, or its sealed form when redaction would change it
// (a secret-named field, or a credential in the text). The digest is keyed
// by the rule's hash: the same rule definition seals a value the same way
// on every replica and after every restart.
func sealValue(rd *redactor, ruleHash, key, v string, once bool) string {
	if v == "" || strings.HasPrefix(v, sealPrefix) || rd.value(key, v, once) == v {
		return v
	}
	return sealDigest(ruleHash, v)
}

func sealDigest(ruleHash, v string) string {
	m := hmac.New(sha256.New, []byte("secwatch state seal\x00"+ruleHash))
	m.Write([]byte(v))
	return sealPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}

func isSealed(v string) bool { return strings.HasPrefix(v, sealPrefix) }

// sealFields returns fs with each value sealed; fs itself when none is.
func sealFields(rd *redactor, ruleHash string, fs []event.Field) []event.Field {
	var out []event.Field
	for i, f := range fs {
		if s := sealValue(rd, ruleHash, f.Key, f.Value, true); s != f.Value {
			if out == nil {
				out = append([]event.Field(nil), fs...)
			}
			out[i].Value = s
		}
	}
	if out == nil {
		return fs
	}
	return out
}

// unsealGroup finds the restored group whose sealed key matches key (the
// length-prefixed group_by values of an event whose group was not found)
// and gives it back its raw key and values, so that the event, and the
// alert it may fire, see the group replay would have. Only called while
// rs holds sealed groups.
func (e *Engine) unsealGroup(rs *ruleState, key []byte) *group {
	var sealed []byte
	changed := false
	for i, off := 0, 0; off < len(key) && i < len(rs.rule.GroupBy); i++ {
		l, w := readUvarint(string(key[off:]))
		v := string(key[off+w : off+w+int(l)])
		off += w + int(l)
		s := sealValue(nil, rs.rule.Hash, rs.rule.GroupBy[i], v, true)
		changed = changed || s != v
		sealed = appendUvarint(sealed, uint64(len(s)))
		sealed = append(sealed, s...)
	}
	if !changed {
		return nil
	}
	g := rs.groups.lookup(sealed)
	if g == nil {
		return nil
	}
	if e.cap != nil {
		e.cow(rs, g)
	}
	rs.groups.remove(g)
	// A fresh string, and keyCap 0: newGroup must never write into memory
	// it did not allocate for this group (setKey).
	g.key, g.keyCap = string(key), 0
	for i, off := 0, 0; i < len(g.fields); i++ {
		l, w := readUvarint(g.key[off:])
		g.fields[i].Value = g.key[off+w : off+w+int(l)]
		off += w + int(l)
	}
	rs.groups.insert(g) // one removed, one back: nothing is evicted
	rs.sealed--
	return g
}

// unsealDistinct gives a sealed distinct value of g back its raw form v
// when v is seen again, so that it counts as the value it was, not as a
// new one. Only called while g holds sealed values.
func (g *group) unsealDistinct(r *Rule, v string) {
	d := g.dist
	if d.find(v) >= 0 {
		return
	}
	s := sealValue(nil, r.Hash, r.Distinct, v, true)
	if s == v {
		return
	}
	i := d.find(s)
	if i < 0 {
		return
	}
	d.vs[i].v = strings.Clone(v)
	if d.idx != nil {
		delete(d.idx, s)
		d.idx[d.vs[i].v] = i
	}
	d.sealed--
}

// recountSealed brings g.dist.sealed up to date (sealed values leave the
// window unseen) and reports whether g is still keyed by sealed values.
// A capture calls it, as it copies every group anyway, so that a rule
// stops looking for sealed groups once none is left.
func (g *group) recountSealed() bool {
	if g.dist != nil && g.dist.sealed > 0 {
		g.dist.sealed = 0
		for _, v := range g.dist.vs {
			if v.n > 0 && isSealed(v.v) {
				g.dist.sealed++
			}
		}
	}
	for _, f := range g.fields {
		if isSealed(f.Value) {
			return true
		}
	}
	return false
}
