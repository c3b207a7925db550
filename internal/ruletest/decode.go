package ruletest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

var (
	fileKeys   = []string{"rule_files", "max_keys", "tests"}
	caseKeys   = []string{"name", "format", "time_field", "time_format", "time_zone", "pattern", "rules", "input", "input_file", "input_mtime", "expect"}
	expectKeys = []string{"rule", "group", "time", "count", "first_seen"}
)

// keyAliases are words users write for a key under another name.
var keyAliases = map[string]string{
	"rules_files": "rule_files", "rulefiles": "rule_files", "files": "rule_files",
	"test": "tests", "cases": "tests", "expected": "expect", "expects": "expect",
	"alerts": "expect", "lines": "input", "file": "input_file", "id": "rule",
	"rule_id": "rule", "labels": "group", "at": "time", "timestamp": "time",
}

// Decode reads and validates a test file. Every problem is reported at
// once as a yamldiag.ErrorList, positioned like a rule file's problems:
// unknown keys (with a suggestion), values of the wrong kind, missing keys,
// a format the parser refuses, and an expect or rules entry naming a rule
// that rule_files does not define. Decode loads the rule files to know
// their ids; problems in them are not Decode's but each test's (Result.Err).
func Decode(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &decoder{
		Walker: yamldiag.Walker{File: path, What: "a rule test file", In: "rule test files"},
		typos:  make(map[*yaml.Node]map[string]bool),
	}
	tf := &File{}
	root, ok := p.Document(data)
	if ok {
		p.file(root, tf)
	}
	if len(tf.RuleFiles) > 0 {
		var paths []string
		for _, rf := range tf.RuleFiles {
			paths = append(paths, filepath.Join(filepath.Dir(path), rf))
		}
		tf.rules, tf.loadErr = rulefile.Load(paths...)
		if tf.loadErr == nil {
			p.ruleIDs(tf)
		}
	}
	if err := p.Errs.Err(); err != nil {
		return nil, err
	}
	return tf, nil
}

// decoder collects the problems of one test file.
type decoder struct {
	yamldiag.Walker
	// ids are the rule references to check once the rule files are
	// loaded: the value node of each expect[].rule and rules[] entry.
	ids []idRef
	// typos holds, per map node, the known keys an unknown key there was
	// taken for: a required key that is only misspelt is one mistake.
	typos map[*yaml.Node]map[string]bool
}

type idRef struct {
	item, key string
	node      *yaml.Node
}

// entries returns the entries of map node n at path, reporting a node that
// is not a map and keys not in known. Null values are left out, as if the
// key were absent.
func (p *decoder) entries(n *yaml.Node, path, what string, known []string) map[string]yamldiag.KeyVal {
	if !p.Is(n, yaml.MappingNode, path, what) {
		return nil
	}
	out := make(map[string]yamldiag.KeyVal)
	for _, kv := range p.Entries(n, path) {
		switch {
		case !slices.Contains(known, kv.Name):
			if w := p.Unknown(kv.Key, path, "field", known, keyAliases); w != "" {
				if p.typos[n] == nil {
					p.typos[n] = make(map[string]bool)
				}
				p.typos[n][w] = true
			}
		case !yamldiag.IsNull(kv.Val):
			out[kv.Name] = kv
		}
	}
	return out
}

func (p *decoder) file(root *yaml.Node, tf *File) {
	if root == nil {
		p.Errorf(nil, "rule_files", "required")
		return
	}
	keys := p.entries(root, "", `a map with "rule_files" and "tests"`, fileKeys)
	if keys == nil {
		return
	}
	if kv, ok := keys["rule_files"]; ok {
		tf.RuleFiles = p.strings(kv, "a list of rule files or directories")
	} else {
		p.require(root, keys, "rule_files", "")
	}
	if kv, ok := keys["max_keys"]; ok {
		tf.MaxKeys, _ = p.count(kv)
	}
	kv, ok := keys["tests"]
	if !ok {
		return
	}
	if !p.Is(kv.Val, yaml.SequenceNode, kv.Path, "a list of tests") {
		return
	}
	for i, item := range kv.Val.Content {
		tf.Tests = append(tf.Tests, p.testCase(item, i+1))
	}
}

// testLabel names a test in problems: by name, or by its place in the file.
func testLabel(name string, index int) string {
	if name != "" {
		return "test " + strconv.Quote(name)
	}
	return "test #" + strconv.Itoa(index)
}

func (p *decoder) testCase(n *yaml.Node, index int) Case {
	c := Case{line: n.Line}
	p.Item = testLabel("", index)
	defer func() { p.Item = "" }()
	// The name labels every problem of the test, so it comes first.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Kind == yaml.ScalarNode && k.Value == "name" && v.Kind == yaml.ScalarNode && !yamldiag.IsNull(v) {
				p.Item = testLabel(v.Value, index)
				break
			}
		}
	}
	keys := p.entries(n, "", "a map with name, input and expect", caseKeys)
	if keys == nil {
		return c
	}
	str := func(name string) string {
		kv, ok := keys[name]
		if !ok {
			return ""
		}
		s, _ := p.Scalar(kv.Val, kv.Path, "a string")
		return s
	}
	c.Name, c.Format, c.TimeField, c.Pattern = str("name"), str("format"), str("time_field"), str("pattern")
	c.TimeFormat, c.TimeZone = str("time_format"), str("time_zone")
	c.Input, c.InputFile = str("input"), str("input_file")
	if kv, ok := keys["input_mtime"]; ok {
		if s, ok := p.Scalar(kv.Val, kv.Path, "a time"); ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				p.Errorf(kv.Val, kv.Path, "must be an RFC 3339 time like \"2027-01-01T00:10:00Z\", got %q", s)
			}
			c.InputMtime = t
		}
	}
	p.require(n, keys, "name", "")
	_, hasInput := keys["input"]
	_, hasFile := keys["input_file"]
	misspelt := p.typos[n]["input"] || p.typos[n]["input_file"]
	if hasInput == hasFile && (hasInput || !misspelt) {
		at := n
		if hasInput {
			at = keys["input_file"].Key
		}
		p.Errorf(at, "", "exactly one of input and input_file is required")
	}
	if kv, ok := keys["rules"]; ok {
		c.Rules = p.strings(kv, "a list of rule ids")
		if kv.Val.Kind == yaml.SequenceNode {
			for i, id := range kv.Val.Content {
				p.ids = append(p.ids, idRef{item: p.Item, key: fmt.Sprintf("%s[%d]", kv.Path, i), node: id})
			}
		}
	}
	p.format(n, keys, c)
	if kv, ok := keys["expect"]; ok {
		c.Expect = p.expects(kv)
	} else {
		p.require(n, keys, "expect", " (an empty list means no alert fires)")
	}
	return c
}

// require reports key name missing from map n, unless an unknown key was
// taken for it.
func (p *decoder) require(n *yaml.Node, keys map[string]yamldiag.KeyVal, name, hint string) {
	if _, ok := keys[name]; ok {
		return
	}
	if p.typos[n][name] {
		return
	}
	p.Errorf(n, name, "required%s", hint)
}

// format checks format, time_field and pattern by building the parser the
// test will use, reporting its complaint at the key it names.
func (p *decoder) format(n *yaml.Node, keys map[string]yamldiag.KeyVal, c Case) {
	name := c.Format
	if name == "" {
		name = "json"
	}
	_, err := format.NewParser(name, c.parserOptions())
	if err == nil {
		return
	}
	key, msg := "format", err.Error()
	for _, k := range []string{"pattern", "time_field", "time_format", "time_zone"} {
		if m, ok := strings.CutPrefix(msg, k+": "); ok {
			key, msg = k, m
			break
		}
	}
	if kv, ok := keys[key]; ok {
		p.Errorf(kv.Val, kv.Path, "%s", msg)
		return
	}
	p.Errorf(n, key, "%s", msg)
}

func (p *decoder) expects(kv yamldiag.KeyVal) *[]Expect {
	if !p.Is(kv.Val, yaml.SequenceNode, kv.Path, "a list of alerts (an empty list means no alert fires)") {
		return nil
	}
	out := []Expect{}
	for i, item := range kv.Val.Content {
		path := fmt.Sprintf("%s[%d]", kv.Path, i)
		keys := p.entries(item, path, "a map with rule, group, time and count", expectKeys)
		if keys == nil {
			continue
		}
		var e Expect
		if r, ok := keys["rule"]; ok {
			if e.Rule, ok = p.Scalar(r.Val, r.Path, "a rule id"); ok {
				p.ids = append(p.ids, idRef{item: p.Item, key: r.Path, node: r.Val})
			}
		} else if !p.typos[item]["rule"] {
			p.Errorf(item, path+".rule", "required")
		}
		if g, ok := keys["group"]; ok {
			e.Group = p.group(g)
		}
		e.Time = p.timestamp(keys, "time")
		e.FirstSeen = p.timestamp(keys, "first_seen")
		if c, ok := keys["count"]; ok {
			if n, ok := p.count(c); ok {
				e.Count = &n
			}
		}
		out = append(out, e)
	}
	return &out
}

// timestamp parses the optional timestamp under key ("" when absent or
// invalid; an invalid one is reported).
func (p *decoder) timestamp(keys map[string]yamldiag.KeyVal, key string) string {
	t, ok := keys[key]
	if !ok {
		return ""
	}
	s, ok := p.Scalar(t.Val, t.Path, "a timestamp")
	if !ok {
		return ""
	}
	if _, ok := event.ParseTime(s); !ok {
		p.Errorf(t.Val, t.Path, "must be a timestamp like \"2026-01-28T19:14:59Z\", got %q", s)
		return ""
	}
	return s
}

// group parses an expected group: a map of field names to values.
func (p *decoder) group(kv yamldiag.KeyVal) map[string]string {
	if !p.Is(kv.Val, yaml.MappingNode, kv.Path, "a map of field names to values") {
		return nil
	}
	g := make(map[string]string)
	for _, f := range p.Entries(kv.Val, kv.Path) {
		if v, ok := p.Scalar(f.Val, f.Path, "a string"); ok {
			g[f.Name] = v
		}
	}
	return g
}

// strings parses a list of non-empty strings.
func (p *decoder) strings(kv yamldiag.KeyVal, want string) []string {
	if !p.Is(kv.Val, yaml.SequenceNode, kv.Path, want) {
		return nil
	}
	var out []string
	for i, n := range kv.Val.Content {
		path := fmt.Sprintf("%s[%d]", kv.Path, i)
		s, ok := p.Scalar(n, path, "a string")
		if ok && s == "" {
			p.Errorf(n, path, "must not be empty")
			ok = false
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// count parses a whole number >= 0.
func (p *decoder) count(kv yamldiag.KeyVal) (int, bool) {
	s, ok := p.Scalar(kv.Val, kv.Path, "a whole number")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		p.Errorf(kv.Val, kv.Path, "must be a whole number >= 0, got %q", s)
		return 0, false
	}
	return n, true
}

// ruleIDs reports each rule reference that names no rule of rule_files,
// suggesting the closest id.
func (p *decoder) ruleIDs(tf *File) {
	// Suggest reads '-' as '_', as keys are written either way; ids are
	// compared in that form too, then the id is named as written.
	ids := make([]string, 0, len(tf.rules))
	byNorm := make(map[string]string, len(tf.rules))
	for _, r := range tf.rules {
		ids = append(ids, r.ID)
		n := strings.ReplaceAll(r.ID, "-", "_")
		byNorm[n] = r.ID
	}
	norms := slices.Collect(maps.Keys(byNorm))
	slices.Sort(norms)
	for _, ref := range p.ids {
		if ref.node.Kind != yaml.ScalarNode || slices.Contains(ids, ref.node.Value) {
			continue
		}
		hint := ""
		if w := yamldiag.Suggest(ref.node.Value, norms, nil); w != "" {
			hint = " (did you mean " + strconv.Quote(byNorm[w]) + "?)"
		}
		p.Item = ref.item
		p.Errorf(ref.node, ref.key, "no rule %q in rule_files%s", ref.node.Value, hint)
	}
	p.Item = ""
}
