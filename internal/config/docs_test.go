package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const docsPath = "../../docs/config.md"

// TestDocsNameEveryKey checks that docs/config.md has a table row for every
// key the parser accepts, by its full path.
func TestDocsNameEveryKey(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := make(map[string]bool)
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|").FindAllStringSubmatch(string(data), -1) {
		rows[m[1]] = true
	}
	var want []string
	want = append(want, topKeys...)
	for _, s := range []struct {
		prefix string
		keys   []string
	}{
		{"engine.", engineKeys}, {"alerts.", alertsKeys}, {"alerts.stdout.", stdoutKeys},
		{"alerts.sns.", snsKeys}, {"http.", httpKeys}, {"log.", logKeys}, {"aws.", awsKeys},
		{"", sourceKeyList},
	} {
		for _, k := range s.keys {
			if k == "stdout" || k == "sns" {
				continue // maps whose keys have rows of their own
			}
			want = append(want, s.prefix+k)
		}
	}
	for _, k := range want {
		if !rows[k] {
			t.Errorf("docs/config.md has no table row for %q", k)
		}
	}
	if len(sourceKeyList) != len(sourceKeys) {
		t.Errorf("sourceKeyList has %d keys, sourceKeys %d", len(sourceKeyList), len(sourceKeys))
	}
	for _, k := range sourceKeyList {
		if _, ok := sourceKeys[k]; !ok {
			t.Errorf("source key %q has no entry in sourceKeys", k)
		}
	}
}

// TestDocsExampleParses parses the annotated example in docs/config.md.
func TestDocsExampleParses(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	const head = "## Annotated example"
	_, rest, ok := strings.Cut(string(data), head)
	if !ok {
		t.Fatalf("docs/config.md has no %q section", head)
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	src, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("no yaml block in the annotated example")
	}
	c, err := Parse(filepath.Base(docsPath), strings.NewReader(src), env(map[string]string{
		"SECWATCH_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:secwatch-alerts",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Sources), 5; got != want {
		t.Errorf("got %d sources, want %d", got, want)
	}
	if got, want := c.Sources[0].Paths[0], "/var/log/mcp/*.log"; got != want {
		t.Errorf("sources[0].paths[0]: got %q, want %q", got, want)
	}
	if got, want := c.Alerts.SNS.Region, "eu-west-1"; got != want {
		t.Errorf("alerts.sns.region: got %q, want %q", got, want)
	}
	_, err = Parse("config.md", strings.NewReader(src), env(nil))
	if got, want := errString(err), `environment variable "SECWATCH_TOPIC_ARN" is not set`; !strings.Contains(got, want) {
		t.Errorf("without SECWATCH_TOPIC_ARN: got %q, want it to contain %q", got, want)
	}
}
