package rules_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/ruletest"
)

// TestSemanticsRuleTests runs the rule tests that pin the decisions of the
// "Semantics" section of docs/rules.md (testdata/semantics), through the
// same runner as `secwatch test`.
func TestSemanticsRuleTests(t *testing.T) {
	results, err := ruletest.Run("../../testdata/semantics")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("no rule tests found in testdata/semantics")
	}
	for _, r := range results {
		t.Run(fmt.Sprintf("%s:%d", filepath.Base(r.File), r.Line), func(t *testing.T) {
			if r.Err != nil {
				t.Fatalf("%s: %v", r.Name, r.Err)
			}
			if !r.Passed() {
				t.Errorf("%s:\n  missing:    %s\n  unexpected: %s", r.Name,
					strings.Join(r.Missing, "\n  missing:    "), strings.Join(r.Unexpected, "\n  unexpected: "))
			}
		})
	}
}
