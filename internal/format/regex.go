package format

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/secwatch/secwatch/internal/event"
)

// regexParser is the regex format: the named groups of an RE2 pattern
// become fields, in the order the groups appear. The pattern is unanchored
// unless it anchors itself, as in rule regexes. Groups that did not take
// part in the match or matched the empty string are omitted; of two groups
// with the same name the first non-empty one wins. The time comes from
// TimeField, or else from the group named "time".
type regexParser struct {
	re        *regexp.Regexp
	names     []string
	timeField string
	times     *timeParser // nil: event.ParseTime
	clock
}

func newRegexParser(pattern, timeField string) (*regexParser, error) {
	if pattern == "" {
		return nil, errors.New("pattern: required for format regex")
	}
	re, err := compilePattern(pattern)
	if err != nil {
		return nil, err
	}
	if timeField == "" {
		timeField = "time"
	}
	return &regexParser{re: re, names: re.SubexpNames(), timeField: timeField}, nil
}

// compilePattern compiles the pattern option, which must have named groups.
func compilePattern(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	if !slices.ContainsFunc(re.SubexpNames(), func(n string) bool { return n != "" }) {
		return nil, errors.New("pattern: has no named groups (?P<name>…)")
	}
	return re, nil
}

func (p *regexParser) Parse(line []byte, ev *event.Event) error {
	if i, j := trimBounds(line); i == j {
		return ErrEmptyLine
	}
	// Unlike the other formats the pattern sees the line as written (only a
	// trailing \r removed), so that patterns may anchor on white space.
	if n := len(line); line[n-1] == '\r' {
		line = line[:n-1]
	}
	s := string(line)
	idx := p.re.FindStringSubmatchIndex(s)
	if idx == nil {
		return errors.New("line does not match pattern")
	}
	addGroups(ev, p.names, idx, s)
	t, found, err := fieldTime(ev, p.timeField, p.times)
	if err != nil {
		return err
	}
	return p.clock.settle(ev, t, found)
}

// addGroups adds the named groups of a match (idx, as FindStringSubmatchIndex
// returns it) of s to ev, in order, skipping empty ones; the first value of
// a name wins.
func addGroups(ev *event.Event, names []string, idx []int, s string) {
	for g := 1; g < len(names); g++ {
		a, b := idx[2*g], idx[2*g+1]
		if names[g] == "" || a < 0 || a == b {
			continue
		}
		addIfAbsent(ev, names[g], s[a:b])
	}
}
