package format

import (
	"errors"
	"fmt"
	"regexp"

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
	clock
}

func newRegexParser(pattern, timeField string) (*regexParser, error) {
	if pattern == "" {
		return nil, errors.New("pattern: required for format regex")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	named := false
	for _, n := range re.SubexpNames() {
		named = named || n != ""
	}
	if !named {
		return nil, errors.New("pattern: has no named groups (?P<name>…)")
	}
	if timeField == "" {
		timeField = "time"
	}
	return &regexParser{re: re, names: re.SubexpNames(), timeField: timeField}, nil
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
	for g := 1; g < len(p.names); g++ {
		a, b := idx[2*g], idx[2*g+1]
		if p.names[g] == "" || a < 0 || a == b {
			continue
		}
		addIfAbsent(ev, p.names[g], s[a:b])
	}
	t, found, err := fieldTime(ev, p.timeField)
	if err != nil {
		return err
	}
	return p.clock.settle(ev, t, found)
}
