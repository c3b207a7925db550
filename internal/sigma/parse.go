package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/yamldiag"
)

// Problem is one error or warning at a place in a Sigma file: the loader's
// positioned diagnostic, with Item labelling the Sigma rule (`rule "id"` or
// `rule #2`, the document number) and Key the offending key.
type Problem = yamldiag.Error

// document is one YAML document of a Sigma file: a detection rule or a
// correlation rule.
type document struct {
	file  string
	index int // 1-based number of the document in its file
	node  *yaml.Node
	label string // `rule "id"` or `rule #n`

	id, name, title, description string
	level                        string
	levelNode                    *yaml.Node
	tags, references             []string
	logsource                    map[string]string
	detection                    *yaml.Node
	correlation                  *yaml.Node
}

// nativeID is the Sigma id (or else name) as a native rule id, or "".
func (d *document) nativeID() string {
	for _, s := range []string{d.id, d.name} {
		s = strings.Trim(nonID.ReplaceAllString(strings.ToLower(s), "-"), "-")
		if s != "" {
			return s
		}
	}
	return ""
}

var (
	nonID    = regexp.MustCompile(`[^a-z0-9-]+`)
	yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)
)

// parser collects the problems of one conversion.
type parser struct {
	problems []Problem
	warnings []Problem
}

func (p *parser) errorf(d *document, n *yaml.Node, key, format string, args ...any) {
	p.problems = append(p.problems, problem(d, n, key, fmt.Sprintf(format, args...)))
}

func (p *parser) warnf(d *document, n *yaml.Node, key, format string, args ...any) {
	p.warnings = append(p.warnings, problem(d, n, key, fmt.Sprintf(format, args...)))
}

func problem(d *document, n *yaml.Node, key, msg string) Problem {
	pr := Problem{File: d.file, Item: d.label, Key: key, Msg: msg}
	if n != nil {
		pr.Line, pr.Col = n.Line, n.Column
	}
	return pr
}

// IsSigma reports whether data is a Sigma rule file: its first YAML
// document is a map with a "detection" or "correlation" key and no "rules"
// key (which would make it a native rule file).
func IsSigma(data []byte) (is bool) {
	defer func() {
		if recover() != nil {
			is = false // the native loader reports the broken YAML
		}
	}()
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&n); err != nil || len(n.Content) == 0 {
		return false
	}
	m := n.Content[0]
	if m.Kind != yaml.MappingNode {
		return false
	}
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		switch m.Content[i].Value {
		case "rules":
			return false
		case "detection", "correlation":
			found = true
		}
	}
	return found
}

// parseFile reads every document of one Sigma file.
func (p *parser) parseFile(name string, data []byte) (docs []*document) {
	file := &document{file: name}
	defer func() {
		if r := recover(); r != nil { // never let a hostile file crash a reload
			p.errorf(file, nil, "", "invalid yaml: parser failed: %v", r)
			docs = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			pr := problem(file, nil, "", "invalid yaml: "+strings.TrimPrefix(err.Error(), "yaml: "))
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				pr.Line, _ = strconv.Atoi(m[1])
				pr.Msg = "invalid yaml: " + strings.TrimPrefix(err.Error(), m[0])
				if strings.HasPrefix(pr.Msg, "invalid yaml: did not find expected") {
					pr.Line++ // libyaml's parser (not its scanner) counts lines from 0
				}
			}
			p.problems = append(p.problems, pr)
			return nil
		}
		if len(n.Content) == 0 {
			continue
		}
		if d := p.parseDocument(name, i, n.Content[0]); d != nil {
			docs = append(docs, d)
		}
	}
}

// parseDocument reads the keys of one document; detection and correlation
// are kept as nodes for the converter.
func (p *parser) parseDocument(file string, index int, n *yaml.Node) *document {
	d := &document{file: file, index: index, node: n, label: "rule #" + strconv.Itoa(index)}
	if n.Kind != yaml.MappingNode {
		p.errorf(d, n, "", "a Sigma rule must be a map, got %s", describe(n))
		return nil
	}
	kvs := pairs(n)
	for _, kv := range kvs {
		if kv.k.Value == "id" && kv.v.Kind == yaml.ScalarNode {
			d.id = kv.v.Value
			d.label = "rule " + strconv.Quote(kv.v.Value)
		}
	}
	if hasAlias(n) {
		p.errorf(d, n, "", "yaml aliases are not allowed in rule files")
		return nil
	}
	seen := map[string]bool{}
	for _, kv := range kvs {
		k, v := kv.k.Value, kv.v
		if seen[k] {
			p.errorf(d, kv.k, "", "duplicate key %q", k)
			continue
		}
		seen[k] = true
		switch k {
		case "id":
		case "name":
			d.name = p.scalar(d, v, k)
		case "title":
			d.title = p.scalar(d, v, k)
		case "description":
			d.description = p.scalar(d, v, k)
		case "level":
			d.level, d.levelNode = p.scalar(d, v, k), v
		case "tags":
			d.tags = p.scalars(d, v, k)
		case "references":
			d.references = p.scalars(d, v, k)
		case "logsource":
			d.logsource = map[string]string{}
			if v.Kind != yaml.MappingNode {
				p.errorf(d, v, k, "must be a map, got %s", describe(v))
				continue
			}
			for _, e := range pairs(v) {
				d.logsource[e.k.Value] = p.scalar(d, e.v, k+"."+e.k.Value)
			}
		case "detection":
			d.detection = v
		case "correlation":
			d.correlation = v
		}
	}
	if d.title == "" {
		p.errorf(d, n, "title", "required")
	}
	switch {
	case d.detection == nil && d.correlation == nil:
		p.errorf(d, n, "", "a Sigma rule needs detection or correlation")
		return nil
	case d.detection != nil && d.correlation != nil:
		p.errorf(d, d.correlation, "correlation", "a rule has detection or correlation, not both")
		return nil
	}
	return d
}

type pair struct{ k, v *yaml.Node }

// pairs returns the entries of a map node.
func pairs(n *yaml.Node) []pair {
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, pair{n.Content[i], n.Content[i+1]})
	}
	return out
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// scalar returns a scalar's text, reporting anything else.
func (p *parser) scalar(d *document, n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(d, n, key, "must be a string, got %s", describe(n))
		return ""
	}
	return n.Value
}

// scalars returns a list of scalars (or one scalar as a list of one).
func (p *parser) scalars(d *document, n *yaml.Node, key string) []string {
	if n.Kind == yaml.ScalarNode {
		if isNull(n) {
			return nil
		}
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(d, n, key, "must be a list, got %s", describe(n))
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s := p.scalar(d, c, key); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// describe names what a node is, for "got …" in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return "a document"
}
