package ruletest

import (
	"testing"

	"github.com/secwatch/secwatch/schemas"
)

// TestSchemaKeys keeps schemas/ruletest.schema.json's keys those of the
// loader.
func TestSchemaKeys(t *testing.T) {
	err := schemas.Drift("ruletest.schema.json", map[string][]string{
		"":              fileKeys,
		"/$defs/case":   caseKeys,
		"/$defs/expect": expectKeys,
	})
	if err != nil {
		t.Error(err)
	}
}
