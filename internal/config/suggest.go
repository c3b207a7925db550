package config

import "github.com/secwatch/secwatch/internal/rules"

// didYouMean and suggest word suggestions exactly as the rule loader does.
func didYouMean(s string, known []string) string { return rules.DidYouMean(s, known, nil) }

func suggest(s string, known []string) string { return rules.Suggest(s, known, nil) }
