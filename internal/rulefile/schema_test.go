package rulefile

import (
	"testing"

	"github.com/secwatch/secwatch/schemas"
)

// TestSchemaKeys keeps schemas/rules.schema.json's keys those of the loader.
func TestSchemaKeys(t *testing.T) {
	err := schemas.Drift("rules.schema.json", map[string][]string{
		"":                 topKeys,
		"/$defs/rule":      ruleKeys,
		"/$defs/step":      stepKeys,
		"/$defs/alarm":     alarmKeys,
		"/$defs/operators": opNames,
	})
	if err != nil {
		t.Error(err)
	}
}
