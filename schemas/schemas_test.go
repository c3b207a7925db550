package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/ruletest"
	"github.com/secwatch/secwatch/schemas"
)

// The three kinds of file, each with its schema and its loader.
var kinds = []struct {
	name   string
	schema string
	load   func(t *testing.T, dir, file string) error
}{
	{"rules", "rules.schema.json", func(t *testing.T, dir, file string) error {
		_, err := rulefile.Load(file)
		return err
	}},
	{"ruletest", "ruletest.schema.json", func(t *testing.T, dir, file string) error {
		_, err := ruletest.Decode(file)
		return err
	}},
	{"config", "config.schema.json", func(t *testing.T, dir, file string) error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		getenv := func(name string) (string, bool) {
			v, ok := deployEnv[name]
			return v, ok
		}
		_, err = config.Parse(file, bytes.NewReader(b), getenv)
		return err
	}},
}

// deployEnv is the environment the shipped configurations expect.
var deployEnv = map[string]string{
	"SECWATCH_TOPIC_ARN":        "arn:aws:sns:eu-west-1:123456789012:secwatch-alerts",
	"SECWATCH_MCP_LOG_GROUP":    "/mcp/server",
	"SECWATCH_ALB_LOG_GROUP":    "/alb/access",
	"SECWATCH_METRIC_NAMESPACE": "secwatch",
	"SECWATCH_ALB_LOG_QUEUE":    "https://sqs.eu-west-1.amazonaws.com/123456789012/secwatch-alb-logs",
	"SECWATCH_ALB_LOG_BUCKET":   "alb-logs",
	"SECWATCH_ALB_LOG_PREFIX":   "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/",
}

func compile(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for _, k := range kinds {
		b, err := schemas.FS.ReadFile(k.schema)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", k.schema, err)
		}
		if err := c.AddResource(k.schema, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// validate checks a YAML document against s, as an editor would.
func validate(s *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	b, err := json.Marshal(normalize(v))
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// normalize turns what YAML decoding gives into what JSON can hold.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return v
}

func kindOf(t *testing.T, name string) int {
	for i, k := range kinds {
		if k.name == name {
			return i
		}
	}
	t.Fatalf("no kind %q", name)
	return 0
}

// TestShippedFilesValidate: every shipped rule file, rule test and
// configuration is accepted by its loader and by its schema.
func TestShippedFilesValidate(t *testing.T) {
	glob := func(pat string) []string {
		m, err := filepath.Glob(filepath.Join("..", pat))
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: no files (%v)", pat, err)
		}
		return m
	}
	files := map[string][]string{"rules": nil, "ruletest": nil, "config": nil}
	for _, pat := range []string{"rules/*.yaml", "deploy/config/rules/*.yaml"} {
		for _, f := range glob(pat) {
			if strings.HasSuffix(f, "_test.yaml") {
				files["ruletest"] = append(files["ruletest"], f)
			} else {
				files["rules"] = append(files["rules"], f)
			}
		}
	}
	files["config"] = append(glob("examples/*.yaml"), glob("deploy/config/*.yaml")...)
	for name, fs := range files {
		k := kinds[kindOf(t, name)]
		s := compile(t, k.schema)
		for _, f := range fs {
			if err := k.load(t, filepath.Dir(f), f); err != nil {
				t.Errorf("%s: loader: %v", f, err)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(s, b); err != nil {
				t.Errorf("%s: schema %s: %v", f, k.schema, err)
			}
		}
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocumentedExamplesValidate: every YAML example in the docs that is a
// whole file its loader accepts also validates against the schema, so the
// schema is never stricter than secwatch.
func TestDocumentedExamplesValidate(t *testing.T) {
	docs, _ := filepath.Glob("../docs/*.md")
	docs = append(docs, "../README.md")
	dir := t.TempDir()
	checked := 0
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range yamlBlock.FindAllSubmatch(b, -1) {
			snippet := m[1]
			var top map[string]any
			if yaml.Unmarshal(snippet, &top) != nil {
				continue
			}
			name := "config"
			switch {
			case top["rule_files"] != nil:
				name = "ruletest"
			case top["rules"] != nil && len(top) == 1:
				name = "rules"
			}
			k := kinds[kindOf(t, name)]
			f := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", filepath.Base(d), i))
			if err := os.WriteFile(f, snippet, 0o644); err != nil {
				t.Fatal(err)
			}
			if k.load(t, dir, f) != nil {
				continue // a fragment, or a mistake shown on purpose
			}
			checked++
			if err := validate(compile(t, k.schema), snippet); err != nil {
				t.Errorf("%s, yaml block %d (%s): schema: %v", d, i+1, name, err)
			}
		}
	}
	t.Logf("%d documented examples checked", checked)
	if checked < 3 {
		t.Errorf("only %d documented examples checked; want the rule, test and config examples", checked)
	}
}

// TestBothRefuse: documents that break the schema are refused by the
// loader too.
func TestBothRefuse(t *testing.T) {
	const rule = "rules:\n  - id: r\n    match: {event_type: x}\n    window: 5m\n"
	cases := []struct {
		kind, name, doc string
	}{
		{"rules", "unknown rule key", rule + "    treshold: 3\n"},
		{"rules", "unknown top key", rule + "rule: []\n"},
		{"rules", "threshold not a number", rule + "    threshold: many\n"},
		{"rules", "negative threshold", rule + "    threshold: -1\n"},
		{"rules", "bad severity", rule + "    severity: urgent\n"},
		{"rules", "bad id", "rules:\n  - id: Bad_Id\n    match: {a: b}\n    window: 5m\n"},
		{"rules", "missing id", "rules:\n  - match: {a: b}\n    window: 5m\n"},
		{"rules", "threshold rule without window", "rules:\n  - id: r\n    match: {a: b}\n"},
		{"rules", "unknown operator", "rules:\n  - id: r\n    match: {status: {gt: 3, between: 5}}\n    window: 5m\n"},
		{"rules", "empty any", "rules:\n  - id: r\n    match: {any: []}\n    window: 5m\n"},
		{"rules", "one-step sequence", "rules:\n  - id: r\n    sequence: [{match: {a: b}}]\n    window: 5m\n"},
		{"rules", "match in a sequence rule", "rules:\n  - id: r\n    match: {a: b}\n    sequence: [{match: {a: b}}, {match: {c: d}}]\n    window: 5m\n"},
		{"rules", "window in an absent rule", "rules:\n  - id: r\n    match: {a: b}\n    absent: 5m\n    window: 5m\n"},
		{"rules", "duration without unit", rule + "    cooldown: 300\n"},
		{"rules", "unknown alarm key", rule + "    alarm: {metric: x}\n"},
		{"rules", "bad alarm format", rule + "    alarm: {format: xml}\n"},
		{"ruletest", "unknown case key", "rule_files: [r.yaml]\ntests:\n  - nme: x\n    input: \"\"\n    expect: []\n"},
		{"ruletest", "missing expect", "rule_files: [r.yaml]\ntests:\n  - name: x\n    input: \"\"\n"},
		{"ruletest", "input and input_file", "rule_files: [r.yaml]\ntests:\n  - name: x\n    input: \"\"\n    input_file: a.log\n    expect: []\n"},
		{"ruletest", "missing rule_files", "tests:\n  - name: x\n    input: \"\"\n    expect: []\n"},
		{"ruletest", "unknown expect key", "rule_files: [r.yaml]\ntests:\n  - name: x\n    input: \"\"\n    expect: [{rule: r, grup: {}}]\n"},
		{"ruletest", "count not a number", "rule_files: [r.yaml]\ntests:\n  - name: x\n    input: \"\"\n    expect: [{rule: r, count: many}]\n"},
		{"config", "unknown top key", "sources: [{name: a, type: stdin}]\nstate_directory: /tmp\n"},
		{"config", "bad log level", "sources: [{name: a, type: stdin}]\nlog: {level: loud}\n"},
		{"config", "source without type", "sources: [{name: a}]\n"},
		{"config", "bad source type", "sources: [{name: a, type: kafka}]\n"},
		{"config", "unknown source key", "sources: [{name: a, type: file, paths: [x.log], statr: end}]\n"},
		{"config", "bad start", "sources: [{name: a, type: file, paths: [x.log], start: middle}]\n"},
		{"config", "sns without topic", "sources: [{name: a, type: stdin}]\nalerts: {sns: {region: eu-west-1}}\n"},
		{"config", "bad boolean", "sources: [{name: a, type: stdin}]\nalerts: {stdout: {enabled: maybe}}\n"},
		{"config", "bad duration", "sources: [{name: a, type: stdin}]\nshutdown_grace: 20\n"},
		{"config", "probe without url", "probes: [{name: p}]\n"},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		t.Run(c.kind+"/"+c.name, func(t *testing.T) {
			k := kinds[kindOf(t, c.kind)]
			f := filepath.Join(dir, fmt.Sprintf("case%d.yaml", i))
			if c.kind == "ruletest" {
				f = filepath.Join(dir, fmt.Sprintf("case%d_test.yaml", i))
			}
			if err := os.WriteFile(f, []byte(c.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := validate(compile(t, k.schema), []byte(c.doc)); err == nil {
				t.Errorf("schema accepts it")
			}
			if err := k.load(t, dir, f); err == nil {
				t.Errorf("loader accepts it")
			}
		})
	}
}
