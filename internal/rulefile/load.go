package rulefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/sigma"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// Parse parses and compiles one rule file. file names the file in positions
// and in each Rule's File. Every problem is reported at once as an
// yamldiag.ErrorList; the error is nil when there are none. The rules returned are
// those without problems, in file order: a caller that gets an error must
// not use them for alerting as if the file were good.
func Parse(file string, data []byte) ([]*rules.Rule, error) {
	f := parseFile(file, data)
	f.errs = append(f.errs, duplicateIDs([]*parsedFile{f})...)
	return f.good(), f.errs.Err()
}

// Load reads rule files and directories. A directory contributes its *.yaml
// and *.yml files, sorted by name and not recursively, except rule tests
// (*_test.yaml, *_test.yml) and hidden files (names starting with "."). A
// file named twice is read once. Ids must be unique across all files; a
// duplicate is reported at its second occurrence. Load returns the rules
// without problems in file order and every problem at once as an yamldiag.ErrorList.
func Load(paths ...string) ([]*rules.Rule, error) {
	var errs yamldiag.ErrorList
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
			errs = append(errs, yamldiag.Error{File: p, Msg: pathErrMsg(err)})
			continue
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, yamldiag.Error{File: p, Msg: pathErrMsg(err)})
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
			errs = append(errs, yamldiag.Error{File: name, Msg: pathErrMsg(err)})
			continue
		}
		f := parseFile(name, data)
		errs = append(errs, f.errs...)
		parsed = append(parsed, f)
	}
	// duplicateIDs marks the duplicates, so collect rules after it.
	errs = append(errs, duplicateIDs(parsed)...)
	var out []*rules.Rule
	for _, f := range parsed {
		out = append(out, f.good()...)
	}
	return out, errs.Err()
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
	rules []*rules.Rule
	ok    []bool // ok[i]: rules[i] has no problem
	ids   []idPos
	errs  yamldiag.ErrorList
}

type idPos struct {
	id        string
	rule      int // index in parsedFile.rules
	file      string
	line, col int
}

// good returns the rules without problems.
func (f *parsedFile) good() []*rules.Rule {
	var out []*rules.Rule
	for i, r := range f.rules {
		if f.ok[i] {
			out = append(out, r)
		}
	}
	return out
}

// duplicateIDs reports every id defined a second time, at that place,
// naming the first, and marks the duplicate as not ok.
func duplicateIDs(files []*parsedFile) yamldiag.ErrorList {
	var errs yamldiag.ErrorList
	first := make(map[string]idPos)
	for _, f := range files {
		for _, id := range f.ids {
			p, dup := first[id.id]
			if !dup {
				first[id.id] = id
				continue
			}
			errs = append(errs, yamldiag.Error{
				File: id.file, Line: id.line, Col: id.col,
				Item: ruleLabel(id.id, 0), Key: "id",
				Msg: fmt.Sprintf("duplicate id, first defined at %s", yamldiag.Error{File: p.file, Line: p.line, Col: p.col}.Error()),
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
	yamldiag.Walker
}

func newParser(file string) *ruleParser {
	return &ruleParser{yamldiag.Walker{File: file, What: "a rule file", In: "rule files"}}
}

// str returns the literal text of a scalar that is not null.
func (p *ruleParser) str(n *yaml.Node, key string) (string, bool) {
	return p.Scalar(n, key, "a string")
}

var topKeys = []string{"rules"}

// parseFile parses one file without checking ids across rules.
func parseFile(file string, data []byte) *parsedFile {
	p := newParser(file)
	f := &parsedFile{}
	// Sigma hook: a Sigma rule file is converted to a native one here, with
	// its problems at the Sigma file's positions (internal/sigma).
	if native, problems, isSigma := sigma.Native(file, data); isSigma {
		for _, pr := range problems {
			f.errs = append(f.errs, pr)
		}
		if len(problems) > 0 {
			return f
		}
		data = native
	}
	doc, ok := p.Document(data)
	if !ok || doc == nil {
		f.errs = p.Errs
		return f
	}
	if doc.Kind != yaml.MappingNode {
		p.Errorf(doc, "", "a rule file must be a map with a \"rules\" list, got %s", p.Describe(doc))
		f.errs = p.Errs
		return f
	}
	var list *yaml.Node
	for _, kv := range p.Entries(doc, "") {
		switch kv.Name {
		case "rules":
			list = kv.Val
		default:
			p.Unknown(kv.Key, "", "field", topKeys, keyAliases)
		}
	}
	if list != nil && !yamldiag.IsNull(list) && p.Is(list, yaml.SequenceNode, "rules", "a list of rules") {
		for i, item := range list.Content {
			before := len(p.Errs)
			r, id := p.parseRule(item, i+1)
			if r != nil { // nil when the item is not a map, so it has no id
				if id.id != "" {
					id.rule = len(f.rules)
					f.ids = append(f.ids, id)
				}
				f.rules = append(f.rules, r)
				f.ok = append(f.ok, len(p.Errs) == before)
			}
		}
	}
	f.errs = p.Errs
	return f
}
