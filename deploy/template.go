package deploy

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed CloudFormation template. Values are maps
// (map[string]any), lists ([]any) and strings; the short-form intrinsic
// functions become their long form: !Ref X is {"Ref": "X"}, !GetAtt A.B is
// {"Fn::GetAtt": ["A", "B"]}, !If [c, a, b] is {"Fn::If": ["c", a, b]},
// !Condition C is {"Condition": "C"}.
type Template struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Name       string
	Type       string
	Condition  string
	Properties map[string]any
}

// ParseTemplateFile reads and parses a template.
func ParseTemplateFile(name string) (*Template, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	t, err := ParseTemplate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// ParseTemplate parses a YAML CloudFormation template.
func ParseTemplate(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("want one YAML document")
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is not a map")
	}
	t := &Template{
		Parameters: map[string]map[string]any{},
		Conditions: asMap(top["Conditions"]),
		Resources:  map[string]Resource{},
		Outputs:    asMap(top["Outputs"]),
	}
	for k, p := range asMap(top["Parameters"]) {
		t.Parameters[k] = asMap(p)
	}
	for k, r := range asMap(top["Resources"]) {
		m := asMap(r)
		typ, _ := m["Type"].(string)
		cond, _ := m["Condition"].(string)
		t.Resources[k] = Resource{Name: k, Type: typ, Condition: cond, Properties: asMap(m["Properties"])}
	}
	return t, nil
}

// OfType returns the resources of one type.
func (t *Template) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range t.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// convert turns a YAML node into plain values, expanding CloudFormation's
// short-form tags.
func convert(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.ScalarNode:
		v = n.Value
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, cv)
		}
		v = l
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("%d:%d: key %q given twice", n.Content[i].Line, n.Content[i].Column, k)
			}
			cv, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = cv
		}
		v = m
	case yaml.AliasNode:
		return nil, fmt.Errorf("%d:%d: aliases are not used in templates", n.Line, n.Column)
	default:
		return nil, fmt.Errorf("%d:%d: unexpected YAML node", n.Line, n.Column)
	}
	tag := n.Tag
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return v, nil
	}
	fn := tag[1:]
	switch fn {
	case "Ref", "Condition":
		return map[string]any{fn: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("%d:%d: !GetAtt %q: want Resource.Attribute", n.Line, n.Column, s)
			}
			v = []any{res, attr}
		}
	case "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split", "FindInMap",
		"GetAZs", "Base64", "ImportValue", "Cidr", "Length", "ToJsonString":
	default:
		return nil, fmt.Errorf("%d:%d: unknown tag %s", n.Line, n.Column, strconv.Quote(tag))
	}
	return map[string]any{"Fn::" + fn: v}, nil
}
