package rules_test

import (
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

func init() { rules.Parse, rules.Load = rulefile.Parse, rulefile.Load }
