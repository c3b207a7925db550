package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/rules"
)

// parser decodes one file's YAML nodes into a Config, collecting problems.
type parser struct {
	file   string
	getenv func(string) (string, bool)
	errs   rules.ErrorList
	// fromEnv marks the scalars whose value came through ${VAR}
	// expansion: messages show what the file says, never the value.
	fromEnv map[*yaml.Node]bool
	// typos holds, per map node, the known keys that an unknown key there
	// was taken for: a missing required key that was only misspelt is one
	// mistake, reported once as the unknown key.
	typos map[*yaml.Node]map[string]bool
}

func newParser(file string, getenv func(string) (string, bool)) *parser {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	return &parser{file: file, getenv: getenv, fromEnv: make(map[*yaml.Node]bool), typos: make(map[*yaml.Node]map[string]bool)}
}

// errorf records a problem at node n (nil: no position) for the key at
// path.
func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	e := rules.Error{File: p.file, Key: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// err returns the problems sorted by position, or nil.
func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b rules.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return p.errs
}

// document decodes data into one YAML document's root node; nil when the
// file is empty or only comments.
func (p *parser) document(data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil { // a hostile file must not crash a reload
			p.errorf(nil, "", "invalid yaml: parser failed: %v", r)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, true
		}
		p.yamlError(err)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		p.errorf(at, "", "a config file must hold one yaml document, found another")
		return nil, false
	} else if err != io.EOF {
		p.yamlError(err)
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func (p *parser) yamlError(err error) {
	msg := err.Error()
	e := rules.Error{File: p.file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = "invalid yaml: " + strings.TrimPrefix(msg, "yaml: ")
	p.errs = append(p.errs, e)
}

// keyVal is one entry of a YAML map.
type keyVal struct {
	name     string
	path     string // the key's full path, "sources[0].paths"
	key, val *yaml.Node
}

// mapping returns the entries of the map node n at path, in file order.
// It reports a node that is not a map, keys that are not strings, keys
// given twice (the first counts) and keys not in known, with a suggestion.
// An entry with an empty value (`key:`) is left out, as if it were absent,
// so that the default applies.
func (p *parser) mapping(n *yaml.Node, path string, known []string) []keyVal {
	if !p.noAlias(n, path) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "must be a map, got %s", p.describe(n))
		return nil
	}
	out := make([]keyVal, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !p.noAlias(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "keys must be strings, got %s", p.describe(k))
			continue
		}
		kp := joinKey(path, k.Value)
		if seen[k.Value] {
			p.errorf(k, kp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		if !slices.Contains(known, k.Value) {
			w := suggest(k.Value, known)
			if w == "" {
				p.errorf(k, kp, "unknown field")
				continue
			}
			p.errorf(k, kp, "unknown field (did you mean %q?)", w)
			if p.typos[n] == nil {
				p.typos[n] = make(map[string]bool)
			}
			p.typos[n][w] = true
			continue
		}
		if isNull(v) {
			continue
		}
		out = append(out, keyVal{name: k.Value, path: kp, key: k, val: v})
	}
	return out
}

// required reports the key name missing from map node n (nil: the empty
// file), unless an unknown key in n was taken for it.
func (p *parser) required(n *yaml.Node, path, format string, args ...any) {
	name := path[strings.LastIndexByte(path, '.')+1:]
	if n != nil && p.typos[n][name] {
		return
	}
	p.errorf(n, path, format, args...)
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// noAlias reports an alias node. Config files may not use aliases (or
// merge keys): refusing them keeps an alias bomb from expanding, and every
// setting stays visible where it applies.
func (p *parser) noAlias(n *yaml.Node, path string) bool {
	if n.Kind != yaml.AliasNode {
		return true
	}
	p.errorf(n, path, "yaml aliases are not allowed in the config file, got \"*%s\"", n.Value)
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "got …" in messages. A scalar is
// shown as the file writes it (see got).
func (p *parser) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			return "an empty value"
		}
		return p.got(n)
	}
	return "a document"
}

// got quotes a scalar's value for a message. A value that came from the
// environment may be a secret, so it is shown as the file writes it:
// `the value of "${SNS_TOPIC}"`.
func (p *parser) got(n *yaml.Node) string {
	if p.fromEnv[n] {
		return "the value of " + strconv.Quote(n.Value)
	}
	return strconv.Quote(n.Value)
}

// scalarTags are the tags a value may carry; anything else (!!binary, a
// custom !tag) is refused rather than silently read as text.
var scalarTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!timestamp": true,
}

// scalar returns the text of a scalar with ${VAR} references expanded.
// want says what the key takes ("a string"), for the message when n is a
// map or a list. Expansion works on the parsed value, so a variable's
// value is always text inside this one scalar and can never add keys or
// items to the document.
func (p *parser) scalar(n *yaml.Node, path, want string) (string, bool) {
	if !p.noAlias(n, path) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, path, "must be %s, got %s", want, p.describe(n))
		return "", false
	}
	if !scalarTags[n.Tag] {
		p.errorf(n, path, "unsupported yaml tag %q", n.Tag)
		return "", false
	}
	if !strings.Contains(n.Value, "$") {
		return n.Value, true
	}
	s, vars, errs := expand(n.Value, p.getenv)
	for _, e := range errs {
		p.errorf(n, path, "%s", e)
	}
	if len(errs) > 0 {
		return "", false
	}
	if vars {
		p.fromEnv[n] = true
	}
	return s, true
}

// str parses a string.
func (p *parser) str(kv keyVal) string {
	s, _ := p.scalar(kv.val, kv.path, "a string")
	return s
}

// oneOf parses one of a fixed set of words.
func (p *parser) oneOf(kv keyVal, words []string) (string, bool) {
	s, ok := p.scalar(kv.val, kv.path, "one of "+strings.Join(words, ", "))
	if !ok {
		return "", false
	}
	if !slices.Contains(words, s) {
		hint := ""
		if !p.fromEnv[kv.val] {
			hint = didYouMean(s, words)
		}
		p.errorf(kv.val, kv.path, "must be one of %s, got %s%s", strings.Join(words, ", "), p.got(kv.val), hint)
		return "", false
	}
	return s, true
}

// boolean parses true or false.
func (p *parser) boolean(kv keyVal) (bool, bool) {
	s, ok := p.scalar(kv.val, kv.path, "true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.errorf(kv.val, kv.path, "must be true or false, got %s", p.got(kv.val))
	return false, false
}

// duration parses a Go duration with a unit within [lo, hi].
func (p *parser) duration(kv keyVal, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := p.scalar(kv.val, kv.path, `a duration like "5m"`)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		hint := ""
		if num, ok := strings.CutSuffix(s, "d"); ok && !p.fromEnv[kv.val] {
			if days, err := strconv.Atoi(num); err == nil && days > 0 {
				hint = fmt.Sprintf(" (write days as hours: \"%dh\")", days*24)
			}
		}
		p.errorf(kv.val, kv.path, "must be a duration like \"5m\", got %s%s", p.got(kv.val), hint)
		return 0, false
	}
	if d < lo || d > hi {
		p.errorf(kv.val, kv.path, "must be between %s and %s, got %s", fmtDuration(lo), fmtDuration(hi), p.got(kv.val))
		return 0, false
	}
	return d, true
}

func fmtDuration(d time.Duration) string { return rules.FormatDuration(d) }

var wholeNumber = regexp.MustCompile(`^[0-9]+(_[0-9]+)*$`)

// integer parses a whole number within [lo, hi]; digits may be grouped
// with underscores (100_000).
func (p *parser) integer(kv keyVal, lo, hi int) (int, bool) {
	s, ok := p.scalar(kv.val, kv.path, "a whole number")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if !wholeNumber.MatchString(s) || err != nil || v < lo || v > hi {
		p.errorf(kv.val, kv.path, "must be a whole number from %d to %d, got %s", lo, hi, p.got(kv.val))
		return 0, false
	}
	return v, true
}

var sizePattern = regexp.MustCompile(`^([0-9]+(?:_[0-9]+)*) ?(B|KiB|MiB)?$`)

// size parses a byte count within [lo, hi]: a whole number of bytes, or
// one with a KiB or MiB suffix. KB and MB are refused: whether they mean
// 1000 or 1024 is exactly what the user should not have to guess.
func (p *parser) size(kv keyVal, lo, hi int) (int, bool) {
	s, ok := p.scalar(kv.val, kv.path, `a size like "1MiB"`)
	if !ok {
		return 0, false
	}
	bad := func() (int, bool) {
		p.errorf(kv.val, kv.path, "must be a size from %s to %s like \"512KiB\" or \"1MiB\", got %s", fmtSize(lo), fmtSize(hi), p.got(kv.val))
		return 0, false
	}
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return bad()
	}
	n, err := strconv.Atoi(strings.ReplaceAll(m[1], "_", ""))
	if err != nil {
		return bad()
	}
	unit := map[string]int{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[m[2]]
	if n > hi/unit || n*unit < lo {
		return bad()
	}
	return n * unit, true
}

func fmtSize(n int) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// list parses a list of non-empty strings; a single string is a list of
// one. check, if not nil, validates each item and returns a problem, to
// which the item is added as "got …".
func (p *parser) list(kv keyVal, check func(string) string) []string {
	items := []*yaml.Node{kv.val}
	paths := []string{kv.path}
	if kv.val.Kind == yaml.SequenceNode {
		items = kv.val.Content
		paths = make([]string, len(items))
		for i := range items {
			paths[i] = fmt.Sprintf("%s[%d]", kv.path, i)
		}
	}
	var out []string
	for i, n := range items {
		s, ok := p.scalar(n, paths[i], "a string or a list of strings")
		if !ok {
			continue
		}
		if s == "" {
			p.errorf(n, paths[i], "must not be empty")
			continue
		}
		if check != nil {
			if msg := check(s); msg != "" {
				p.errorf(n, paths[i], "%s, got %s", msg, p.got(n))
				continue
			}
		}
		out = append(out, s)
	}
	return out
}
