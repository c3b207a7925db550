package rules

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/secwatch/secwatch/internal/sigma"
	"go.yaml.in/yaml/v3"
)

// Error is one problem in a rule file. Line and Col are 1-based; 0 means
// unknown. Rule is the rule's label (`rule "id"`, or `rule #2` when the id
// is missing or invalid) and Key the path of the offending key
// ("match.any[0].status"); either may be empty.
type Error struct {
	File      string
	Line, Col int
	Rule      string
	Key       string
	Msg       string
}

// Error renders the problem as `file:line:col: rule "id": key: problem`,
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
	for _, s := range []string{e.Rule, e.Key, e.Msg} {
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

// sort orders the list by file, line and column, keeping the order in
// which problems were found at the same position.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// err returns l as an error, or nil when it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	return l
}

// Parse parses and compiles one rule file. file names the file in positions
// and in each Rule's File. Every problem is reported at once as an
// ErrorList; the error is nil when there are none. The rules returned are
// those without problems, in file order: a caller that gets an error must
// not use them for alerting as if the file were good.
func Parse(file string, data []byte) ([]*Rule, error) {
	f := parseFile(file, data)
	f.errs = append(f.errs, duplicateIDs([]*parsedFile{f})...)
	return f.good(), f.errs.err()
}

// Load reads rule files and directories. A directory contributes its *.yaml
// and *.yml files, sorted by name and not recursively, except rule tests
// (*_test.yaml, *_test.yml) and hidden files (names starting with "."). A
// file named twice is read once. Ids must be unique across all files; a
// duplicate is reported at its second occurrence. Load returns the rules
// without problems in file order and every problem at once as an ErrorList.
func Load(paths ...string) ([]*Rule, error) {
	var errs ErrorList
	var files []string
	seen := make(map[string]bool)
	add := func(name string) {
		if c := filepath.Clean(name); !seen[c] {
			seen[c] = true
			files = append(files, name)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, Error{File: p, Msg: pathErrMsg(err)})
			continue
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, Error{File: p, Msg: pathErrMsg(err)})
			continue
		}
		for _, e := range entries { // ReadDir sorts by name
			if isRuleFile(e) {
				add(filepath.Join(p, e.Name()))
			}
		}
	}
	var parsed []*parsedFile
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, Error{File: name, Msg: pathErrMsg(err)})
			continue
		}
		f := parseFile(name, data)
		errs = append(errs, f.errs...)
		parsed = append(parsed, f)
	}
	// duplicateIDs marks the duplicates, so collect rules after it.
	errs = append(errs, duplicateIDs(parsed)...)
	var out []*Rule
	for _, f := range parsed {
		out = append(out, f.good()...)
	}
	return out, errs.err()
}

// isRuleFile reports whether a directory entry is a rule file Load reads.
func isRuleFile(e fs.DirEntry) bool {
	name := e.Name()
	if strings.HasPrefix(name, ".") {
		return false // editor backups and lock files (emacs .#x.yaml)
	}
	if e.IsDir() {
		return false
	}
	ext := filepath.Ext(name)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

// pathErrMsg is the message of a file system error without the path, which
// the Error already carries.
func pathErrMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// parsedFile is one file's rules and problems. ids holds every rule with a
// valid id, including rules with other problems, so that duplicates are
// found among all of them.
type parsedFile struct {
	rules []*Rule
	ok    []bool // ok[i]: rules[i] has no problem
	ids   []idPos
	errs  ErrorList
}

type idPos struct {
	id        string
	rule      int // index in parsedFile.rules
	file      string
	line, col int
}

// good returns the rules without problems.
func (f *parsedFile) good() []*Rule {
	var out []*Rule
	for i, r := range f.rules {
		if f.ok[i] {
			out = append(out, r)
		}
	}
	return out
}

// duplicateIDs reports every id defined a second time, at that place,
// naming the first, and marks the duplicate as not ok.
func duplicateIDs(files []*parsedFile) ErrorList {
	var errs ErrorList
	first := make(map[string]idPos)
	for _, f := range files {
		for _, id := range f.ids {
			p, dup := first[id.id]
			if !dup {
				first[id.id] = id
				continue
			}
			errs = append(errs, Error{
				File: id.file, Line: id.line, Col: id.col,
				Rule: ruleLabel(id.id, 0), Key: "id",
				Msg: fmt.Sprintf("duplicate id, first defined at %s", Error{File: p.file, Line: p.line, Col: p.col}.Error()),
			})
			f.ok[id.rule] = false
		}
	}
	return errs
}

func ruleLabel(id string, n int) string {
	if id != "" {
		return "rule " + strconv.Quote(id)
	}
	return "rule #" + strconv.Itoa(n)
}

// ruleParser collects the problems of one file.
type ruleParser struct {
	file string
	rule string // label of the rule being parsed, "" outside rules
	errs ErrorList
}

// errorf records a problem at node n (nil: no position).
func (p *ruleParser) errorf(n *yaml.Node, key, format string, args ...any) {
	e := Error{File: p.file, Rule: p.rule, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

var topKeys = []string{"rules"}

// parseFile parses one file without checking ids across rules.
func parseFile(file string, data []byte) *parsedFile {
	p := &ruleParser{file: file}
	f := &parsedFile{}
	// Sigma hook: a Sigma rule file is converted to a native one here, with
	// its problems at the Sigma file's positions (internal/sigma).
	if native, problems, isSigma := sigma.Native(file, data); isSigma {
		for _, pr := range problems {
			f.errs = append(f.errs, Error(pr))
		}
		if len(problems) > 0 {
			return f
		}
		data = native
	}
	doc, ok := p.document(data)
	if !ok || doc == nil {
		f.errs = p.errs
		return f
	}
	if doc.Kind != yaml.MappingNode {
		p.errorf(doc, "", "a rule file must be a map with a \"rules\" list, got %s", describeNode(doc))
		f.errs = p.errs
		return f
	}
	var list *yaml.Node
	for _, kv := range p.mapping(doc, "") {
		switch kv.name {
		case "rules":
			list = kv.val
		default:
			p.unknownKey(kv.key, "", "field", topKeys, keyAliases)
		}
	}
	if list != nil && !isNull(list) && p.noAlias(list, "rules") {
		if list.Kind != yaml.SequenceNode {
			p.errorf(list, "rules", "must be a list of rules, got %s", describeNode(list))
		} else {
			for i, item := range list.Content {
				before := len(p.errs)
				r, id := p.parseRule(item, i+1)
				if r != nil { // nil when the item is not a map, so it has no id
					if id.id != "" {
						id.rule = len(f.rules)
						f.ids = append(f.ids, id)
					}
					f.rules = append(f.rules, r)
					f.ok = append(f.ok, len(p.errs) == before)
				}
			}
		}
	}
	f.errs = p.errs
	return f
}
