package yamldiag

import "testing"

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"everything", Error{File: "rules/mcp.yaml", Line: 4, Col: 13, Item: `rule "mcp-auth-failure-burst"`, Key: "window", Msg: `must be between 1s and 24h, got "0s"`},
			`rules/mcp.yaml:4:13: rule "mcp-auth-failure-burst": window: must be between 1s and 24h, got "0s"`},
		{"numbered rule", Error{File: "rules/mcp.yaml", Line: 9, Col: 5, Item: "rule #2", Key: "id", Msg: "required"},
			"rules/mcp.yaml:9:5: rule #2: id: required"},
		{"no column", Error{File: "a.yaml", Line: 3, Msg: "invalid yaml: found unexpected end of stream"},
			"a.yaml:3: invalid yaml: found unexpected end of stream"},
		{"no position", Error{File: "rules", Msg: "open: no such file or directory"},
			"rules: open: no such file or directory"},
		{"no item", Error{File: "a.yaml", Line: 1, Col: 1, Key: "rule", Msg: "unknown field"},
			"a.yaml:1:1: rule: unknown field"},
		{"no file", Error{Line: 2, Col: 3, Key: "match.status", Msg: "must list at least one value"},
			"2:3: match.status: must list at least one value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	list := ErrorList{tests[0].err, tests[1].err}
	if got, want := list.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("ErrorList: got %q, want %q", got, want)
	}
}
