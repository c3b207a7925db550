package yamldiag

import (
	"strconv"
	"strings"
)

// DidYouMean returns ` (did you mean "x"?)` naming the known word closest
// to s (see Suggest), or "" when none is close.
func DidYouMean(s string, known []string, aliases map[string]string) string {
	if w := Suggest(s, known, aliases); w != "" {
		return " (did you mean " + strconv.Quote(w) + "?)"
	}
	return ""
}

// Suggest returns the known word closest to s: the same word in another
// case or with '-' for '_', the word aliases gives for it (a synonym from
// another tool), or one within Levenshtein distance 2 (and shorter than s,
// so that two-letter typos do not suggest everything). It returns "" when
// nothing is close.
func Suggest(s string, known []string, aliases map[string]string) string {
	norm := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	for _, k := range known {
		if norm == k {
			return k
		}
	}
	if a, ok := aliases[norm]; ok {
		for _, k := range known {
			if a == k {
				return k
			}
		}
	}
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(norm, k); d < bestD && d < len(norm) {
			best, bestD = k, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, in bytes (keys and
// operators are ASCII).
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
