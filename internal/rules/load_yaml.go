package rules

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// keyVal is one entry of a YAML map.
type keyVal struct {
	name     string
	key, val *yaml.Node
}

// mapping returns the entries of map node n in file order, reporting keys
// that are not plain strings and keys given twice (the first one counts).
func (p *ruleParser) mapping(n *yaml.Node, path string) []keyVal {
	out := make([]keyVal, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !p.noAlias(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "keys must be strings, got %s", describeNode(k))
			continue
		}
		if seen[k.Value] {
			p.errorf(k, path, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, keyVal{name: k.Value, key: k, val: v})
	}
	return out
}

// noAlias reports an alias node as a problem. Rule files may not use YAML
// aliases: refusing them is what keeps an alias bomb ("billion laughs")
// from expanding, and rules read better written out.
func (p *ruleParser) noAlias(n *yaml.Node, key string) bool {
	if n.Kind != yaml.AliasNode {
		return true
	}
	p.errorf(n, key, "yaml aliases are not allowed in rule files, got \"*%s\"", n.Value)
	return false
}

// scalarTags are the tags a value may carry; anything else (!!binary, a
// custom !tag) is refused rather than silently read as text.
var scalarTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!timestamp": true,
}

// str returns the literal text of a scalar that is not null.
func (p *ruleParser) str(n *yaml.Node, key string) (string, bool) {
	if !p.noAlias(n, key) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, key, "must be a string, got %s", describeNode(n))
		return "", false
	}
	if !scalarTags[n.Tag] {
		p.errorf(n, key, "unsupported yaml tag %q", n.Tag)
		return "", false
	}
	return n.Value, true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "got …" in messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			if n.Value == "" {
				return "an empty value"
			}
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return "a document"
}

// unknownKey reports a key that is not one of known, suggesting the
// nearest known one.
func (p *ruleParser) unknownKey(k *yaml.Node, parent, what string, known []string, aliases map[string]string) {
	p.errorf(k, joinKey(parent, k.Value), "unknown %s%s", what, didYouMean(k.Value, known, aliases))
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// didYouMean returns ` (did you mean "x"?)` naming the known word closest
// to s: the same word in another case or with '-' for '_', a common
// synonym, or one within Levenshtein distance 2 (and shorter than s, so
// that two-letter typos do not suggest everything). It returns "" when
// nothing is close.
func didYouMean(s string, known []string, aliases map[string]string) string {
	return DidYouMean(s, known, aliases)
}

// DidYouMean returns ` (did you mean "x"?)` naming the known word closest
// to s (see didYouMean), or "" when none is close. The config loader uses
// it too, so that both files suggest alike.
func DidYouMean(s string, known []string, aliases map[string]string) string {
	if w := suggestWord(s, known, aliases); w != "" {
		return " (did you mean " + strconv.Quote(w) + "?)"
	}
	return ""
}

// Suggest returns the known word closest to s (see didYouMean), or "".
func Suggest(s string, known []string, aliases map[string]string) string {
	return suggestWord(s, known, aliases)
}

func suggestWord(s string, known []string, aliases map[string]string) string {
	norm := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	for _, k := range known {
		if norm == k {
			return k
		}
	}
	if a, ok := aliases[norm]; ok {
		for _, k := range known {
			if a == k {
				return k
			}
		}
	}
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(norm, k); d < bestD && d < len(norm) {
			best, bestD = k, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, in bytes (keys and
// operators are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// document decodes data into a single YAML document node; nil when the file
// is empty. A syntax error is one problem, positioned where yaml.v3 says.
func (p *ruleParser) document(data []byte) (doc *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil { // never let a hostile file crash a reload
			p.errorf(nil, "", "invalid yaml: parser failed: %v", r)
			doc, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if err == io.EOF {
			return nil, true // empty file, or only comments
		}
		p.yamlError(err, data)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "a rule file must hold one yaml document, found another")
		return nil, false
	} else if err != io.EOF {
		p.yamlError(err, data)
		return nil, false
	}
	if len(n.Content) == 0 || isNull(n.Content[0]) {
		return nil, true // "---" alone, or "~"
	}
	return n.Content[0], true
}

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): `)
	unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// yamlParserErrors are the messages of libyaml's parser (as opposed to
// its scanner), whose line yaml.v3 reports 0-based.
var yamlParserErrors = []string{
	"did not find expected node content", "did not find expected key",
	"did not find expected '-' indicator", "did not find expected ',' or ']'",
	"did not find expected ',' or '}'", "did not find expected <document start>",
	"did not find expected <stream-start>", "found duplicate %YAML directive",
	"found incompatible YAML document", "found undefined tag handle",
	"found duplicate %TAG directive",
}

func isParserError(msg string) bool {
	return slices.Contains(yamlParserErrors, strings.TrimPrefix(msg, "yaml: "))
}

// isReaderError reports the errors of libyaml's reader (bad encoding,
// control characters), which yaml.v3 gives without a position.
func isReaderError(msg string) bool {
	msg = strings.TrimPrefix(msg, "yaml: ")
	return strings.Contains(msg, "UTF-8") || strings.Contains(msg, "UTF-16") ||
		strings.Contains(msg, "surrogate") || msg == "invalid Unicode character" ||
		msg == "control characters are not allowed"
}

// findBadChar returns the position of the first byte sequence YAML does not
// allow: invalid UTF-8, or a control character other than tab, newline and
// carriage return; 0, 0 when there is none (a UTF-16 file).
func findBadChar(data []byte) (line, col int) {
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size <= 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0x7f && r <= 0x9f && r != 0x85:
			return line, col
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
		data = data[size:]
	}
	return 0, 0
}

// findAlias returns the position of the first "*name" in data, for the
// one yaml.v3 error that comes without a line; 0, 0 when not found.
func findAlias(data []byte, name string) (line, col int) {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if j := bytes.Index(l, []byte("*"+name)); j >= 0 {
			return i + 1, utf8.RuneCount(l[:j]) + 1
		}
	}
	return 0, 0
}

func (p *ruleParser) yamlError(err error, data []byte) {
	msg := err.Error()
	e := Error{File: p.file}
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		e.Line, e.Col = findAlias(data, m[1])
	} else if isReaderError(msg) {
		e.Line, e.Col = findBadChar(data)
	} else {
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			msg = "yaml: " + msg[len(m[0]):]
		}
		// yaml.v3 numbers the lines of parser errors (not scanner errors)
		// from 0, and leaves out line 0.
		if isParserError(msg) || e.Line == 0 {
			e.Line++
		}
	}
	e.Msg = "invalid yaml: " + strings.TrimPrefix(msg, "yaml: ")
	p.errs = append(p.errs, e)
}
