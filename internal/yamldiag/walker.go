package yamldiag

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Walker collects the problems found while reading one file's YAML nodes.
// The zero value is not useful: set File, What and In. A Walker is used
// by one goroutine.
type Walker struct {
	File string
	// What names the kind of file as a subject ("a rule file"), In where
	// aliases are refused ("rule files", "the config file").
	What, In string
	// Item labels the problems recorded while it is set (`rule "id"`).
	Item string
	// Quote, if not nil, quotes a scalar for "got …" in messages; the
	// default is its value in Go syntax.
	Quote func(*yaml.Node) string
	// Errs holds the problems recorded so far, in the order found.
	Errs ErrorList
}

// Errorf records a problem at node n (nil: no position) for the key at
// path.
func (w *Walker) Errorf(n *yaml.Node, path, format string, args ...any) {
	e := Error{File: w.File, Item: w.Item, Key: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	w.Errs = append(w.Errs, e)
}

// KeyVal is one entry of a YAML map. Path is the key's full path
// ("sources[0].paths").
type KeyVal struct {
	Name     string
	Path     string
	Key, Val *yaml.Node
}

// Entries returns the entries of map node n at path in file order,
// reporting keys that are not plain strings and keys given twice (the
// first one counts). The caller checks that n is a map.
func (w *Walker) Entries(n *yaml.Node, path string) []KeyVal {
	out := make([]KeyVal, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.NoAlias(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.Errorf(k, path, "keys must be strings, got %s", w.Describe(k))
			continue
		}
		if seen[k.Value] {
			w.Errorf(k, path, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, KeyVal{Name: k.Value, Path: JoinKey(path, k.Value), Key: k, Val: v})
	}
	return out
}

// Unknown reports key k (under parent) as an unknown what ("field"),
// suggesting the nearest of known, and returns the suggestion ("" if
// none).
func (w *Walker) Unknown(k *yaml.Node, parent, what string, known []string, aliases map[string]string) string {
	s := Suggest(k.Value, known, aliases)
	hint := ""
	if s != "" {
		hint = " (did you mean " + strconv.Quote(s) + "?)"
	}
	w.Errorf(k, JoinKey(parent, k.Value), "unknown %s%s", what, hint)
	return s
}

// JoinKey returns the path of key name under parent.
func JoinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// NoAlias reports an alias node as a problem. Aliases are refused: that is
// what keeps an alias bomb ("billion laughs") from expanding, and every
// setting stays written out where it applies.
func (w *Walker) NoAlias(n *yaml.Node, key string) bool {
	if n.Kind != yaml.AliasNode {
		return true
	}
	w.Errorf(n, key, "yaml aliases are not allowed in %s, got \"*%s\"", w.In, n.Value)
	return false
}

// Is reports whether n (at key) is a node of the given kind, recording
// "must be <want>, got …" when it is not; an alias is refused.
func (w *Walker) Is(n *yaml.Node, kind yaml.Kind, key, want string) bool {
	if !w.NoAlias(n, key) {
		return false
	}
	if n.Kind != kind {
		w.Errorf(n, key, "must be %s, got %s", want, w.Describe(n))
		return false
	}
	return true
}

// scalarTags are the tags a value may carry; anything else (!!binary, a
// custom !tag) is refused rather than silently read as text.
var scalarTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!timestamp": true,
}

// Scalar returns the literal text of a scalar that is not null. want says
// what the key takes ("a string"), for the message when it is not one.
func (w *Walker) Scalar(n *yaml.Node, key, want string) (string, bool) {
	if !w.NoAlias(n, key) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || IsNull(n) {
		w.Errorf(n, key, "must be %s, got %s", want, w.Describe(n))
		return "", false
	}
	if !scalarTags[n.Tag] {
		w.Errorf(n, key, "unsupported yaml tag %q", n.Tag)
		return "", false
	}
	return n.Value, true
}

// IsNull reports whether n is a null scalar (`~`, `null` or nothing).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// Describe names what a node is, for "got …" in messages.
func (w *Walker) Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if IsNull(n) {
			if n.Value == "" {
				return "an empty value"
			}
			return "null"
		}
		if w.Quote != nil {
			return w.Quote(n)
		}
		return strconv.Quote(n.Value)
	}
	return "a document"
}

// Document decodes data into a single YAML document's root node; nil when
// the file is empty, only comments, or a null ("---" alone, "~"). A syntax
// error is one problem, positioned where the parser says; a second
// document is one problem at its start.
func (w *Walker) Document(data []byte) (doc *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil { // never let a hostile file crash a reload
			w.Errorf(nil, "", "invalid yaml: parser failed: %v", r)
			doc, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if err == io.EOF {
			return nil, true
		}
		w.yamlError(err, data)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		w.Errorf(&extra, "", "%s must hold one yaml document, found another", w.What)
		return nil, false
	} else if err != io.EOF {
		w.yamlError(err, data)
		return nil, false
	}
	if len(n.Content) == 0 || IsNull(n.Content[0]) {
		return nil, true
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

// yamlError records a syntax error of the YAML parser, with the best
// position its message and data allow.
func (w *Walker) yamlError(err error, data []byte) {
	msg := err.Error()
	e := Error{File: w.File}
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
	w.Errs = append(w.Errs, e)
}
