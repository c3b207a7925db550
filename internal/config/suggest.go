package config

import (
	"strconv"
	"strings"
)

// TODO(lead): this is a copy of the rule loader's unexported didYouMean /
// levenshtein (internal/rules/load_yaml.go). Once rules exports it (for
// example rules.Suggest(s string, known []string) string), delete this file
// and call that.

// didYouMean returns ` (did you mean "x"?)` naming suggest's word, or "".
func didYouMean(s string, known []string) string {
	if w := suggest(s, known); w != "" {
		return " (did you mean " + strconv.Quote(w) + "?)"
	}
	return ""
}

// suggest returns the known word closest to s: the same word in another
// case or with '-' for '_', or one within Levenshtein distance 2 (and
// shorter than s, so that two-letter typos do not suggest everything). It
// returns "" when nothing is close.
func suggest(s string, known []string) string {
	norm := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(norm, k); d < bestD && (d < len(norm) || d == 0) {
			best, bestD = k, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, in bytes (keys are
// ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
