package deploy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Statement is one IAM policy statement of a template, with both branches
// of a conditional (Fn::If) statement listed as statements of their own.
type Statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []any // strings or intrinsic functions, Fn::If branches flattened
	Condition map[string]any
}

// Statements returns the statements of a policy document. A statement or
// resource under Fn::If contributes every branch that is not AWS::NoValue:
// a permission granted in any configuration counts.
func Statements(doc any) []Statement {
	var out []Statement
	for _, s := range branches(asMap(doc)["Statement"]) {
		m := asMap(s)
		st := Statement{Condition: asMap(m["Condition"])}
		st.Sid, _ = m["Sid"].(string)
		st.Effect, _ = m["Effect"].(string)
		for _, a := range branches(m["Action"]) {
			if s, ok := a.(string); ok {
				st.Actions = append(st.Actions, s)
			}
		}
		st.Resources = branches(m["Resource"])
		out = append(out, st)
	}
	return out
}

// branches flattens a value that may be a list, an Fn::If or a single
// value into the list of its possible elements, without AWS::NoValue.
func branches(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, branches(e)...)
		}
		return out
	case map[string]any:
		if args, ok := x["Fn::If"].([]any); ok && len(args) == 3 {
			return append(branches(args[1]), branches(args[2])...)
		}
		if r, ok := x["Ref"]; ok && r == "AWS::NoValue" {
			return nil
		}
	}
	return []any{v}
}

// ImpliedActions are permissions an AWS call needs besides its own action:
// publishing to a topic encrypted with a customer managed key needs the key
// (through SNS). They may be granted, and are not required: the topic may
// not use such a key.
var ImpliedActions = map[string][]string{
	"sns:Publish": {"kms:GenerateDataKey", "kms:Decrypt"},
}

// Diff is the difference between the actions a policy grants and the calls
// the code makes.
type Diff struct {
	Missing []string // "logs:FilterLogEvents (internal/ingest/cloudwatch.go:24)": called, not granted
	Extra   []string // granted, not called (nor implied by a call)
}

// OK reports whether the policy grants exactly what the code calls.
func (d Diff) OK() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 }

func (d Diff) String() string {
	var b strings.Builder
	for _, m := range d.Missing {
		fmt.Fprintf(&b, "missing: %s\n", m)
	}
	for _, e := range d.Extra {
		fmt.Fprintf(&b, "extra: %s\n", e)
	}
	return b.String()
}

// CompareActions compares the actions granted (Allow statements) with the
// calls. Wildcard actions ("logs:*", "*") are never accepted: each is
// reported as extra.
func CompareActions(stmts []Statement, calls []Call) (Diff, error) {
	granted := map[string]bool{}
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Actions {
			granted[a] = true
		}
	}
	needed := map[string]string{} // action -> where
	implied := map[string]bool{}
	for _, c := range calls {
		a, err := c.Action()
		if err != nil {
			return Diff{}, err
		}
		if _, ok := needed[a]; !ok {
			needed[a] = c.Pos
		}
		for _, i := range ImpliedActions[a] {
			implied[i] = true
		}
	}
	var d Diff
	for a, pos := range needed {
		if !granted[a] {
			d.Missing = append(d.Missing, fmt.Sprintf("%s (called at %s)", a, pos))
		}
	}
	for a := range granted {
		if _, ok := needed[a]; !ok && !implied[a] {
			d.Extra = append(d.Extra, a)
		}
	}
	sort.Strings(d.Missing)
	sort.Strings(d.Extra)
	return d, nil
}

// Services returns the SDK service packages the calls use, sorted.
func Services(calls []Call) []string {
	var out []string
	for _, c := range calls {
		if !slices.Contains(out, c.Service) {
			out = append(out, c.Service)
		}
	}
	sort.Strings(out)
	return out
}
