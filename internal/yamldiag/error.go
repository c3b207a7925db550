package yamldiag

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a file. Line and Col are 1-based; 0 means
// unknown. Item labels the part of the file the problem is in (`rule
// "id"`, `rule #2`, `test "name"`) and Key is the path of the offending key
// ("match.any[0].status"); either may be empty.
type Error struct {
	File      string
	Line, Col int
	Item      string
	Key       string
	Msg       string
}

// Error renders the problem as `file:line:col: item: key: problem`,
// leaving out the parts that are empty.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	for _, s := range []string{e.Item, e.Key, e.Msg} {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// ErrorList is every problem found, sorted by file, line and column.
type ErrorList []Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Sort orders the list by file, line and column, keeping the order in
// which problems were found at the same position.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// Err sorts l and returns it as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}
