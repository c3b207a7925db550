package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// parser decodes one file's YAML nodes into a Config, collecting problems
// through the walker that rule files use too.
type parser struct {
	yamldiag.Walker
	getenv func(string) (string, bool)
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
	p := &parser{getenv: getenv, fromEnv: make(map[*yaml.Node]bool), typos: make(map[*yaml.Node]map[string]bool)}
	p.Walker = yamldiag.Walker{File: file, What: "a config file", In: "the config file", Quote: p.got}
	return p
}

// errorf records a problem at node n (nil: no position) for the key at
// path.
func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.Errorf(n, path, format, args...)
}

// keyVal is one entry of a YAML map.
type keyVal struct {
	name     string
	path     string // the key's full path, "sources[0].paths"
	key, val *yaml.Node
}

// mapping returns the entries of the map node n at path, in file order.
// It reports a node that is not a map, the walker's problems with keys,
// and keys not in known, with a suggestion. An entry with an empty value
// (`key:`) is left out, as if it were absent, so that the default applies.
func (p *parser) mapping(n *yaml.Node, path string, known []string) []keyVal {
	if !p.Is(n, yaml.MappingNode, path, "a map") {
		return nil
	}
	var out []keyVal
	for _, kv := range p.Entries(n, path) {
		if !slices.Contains(known, kv.Name) {
			if w := p.Unknown(kv.Key, path, "field", known, nil); w != "" {
				if p.typos[n] == nil {
					p.typos[n] = make(map[string]bool)
				}
				p.typos[n][w] = true
			}
			continue
		}
		if yamldiag.IsNull(kv.Val) {
			continue
		}
		out = append(out, keyVal{name: kv.Name, path: kv.Path, key: kv.Key, val: kv.Val})
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

// got quotes a scalar's value for a message. A value that came from the
// environment may be a secret, so it is shown as the file writes it:
// `the value of "${SNS_TOPIC}"`.
func (p *parser) got(n *yaml.Node) string {
	if p.fromEnv[n] {
		return "the value of " + strconv.Quote(n.Value)
	}
	return strconv.Quote(n.Value)
}

// scalar returns the text of a scalar with ${VAR} references expanded.
// want says what the key takes ("a string"), for the message when n is a
// map or a list. Expansion works on the parsed value, so a variable's
// value is always text inside this one scalar and can never add keys or
// items to the document.
func (p *parser) scalar(n *yaml.Node, path, want string) (string, bool) {
	s, ok := p.Scalar(n, path, want)
	if !ok || !strings.Contains(s, "$") {
		return s, ok
	}
	s, vars, errs := expand(s, p.getenv)
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
			hint = yamldiag.DidYouMean(s, words, nil)
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
