// Package bench holds the replay benchmark (see README.md); this test keeps
// its rule files loadable.
package bench

import (
	"os"
	"testing"

	"github.com/secwatch/secwatch/internal/rulefile"
)

func TestRuleFilesLoad(t *testing.T) {
	for file, want := range map[string]int{"rules1.yaml": 1, "rules10.yaml": 10, "rulesheavy.yaml": 5} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := rulefile.Parse(file, data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(rs) != want {
			t.Errorf("%s: %d rules, want %d", file, len(rs), want)
		}
		if rs[0].ID != "mcp-auth-failure-burst" || rs[0].Threshold != 10 || rs[0].Window.Minutes() != 5 || rs[0].Cooldown.Minutes() != 15 {
			t.Errorf("%s: first rule is not the headline rule: %+v", file, rs[0])
		}
	}
}
