package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"HOST": "10.0.0.1", "EMPTY": "", "DIR": "/var/log", "_X1": "x"}
	tests := []struct {
		in, want string
		vars     bool
		errs     []string
	}{
		{in: "plain", want: "plain"},
		{in: "${HOST}:9464", want: "10.0.0.1:9464", vars: true},
		{in: "${DIR}/*.log", want: "/var/log/*.log", vars: true},
		{in: "${_X1}", want: "x", vars: true},
		{in: "${UNSET:-127.0.0.1}:9464", want: "127.0.0.1:9464", vars: true},
		{in: "${EMPTY:-fallback}", want: "fallback", vars: true},
		{in: "${EMPTY}", want: "", vars: true},
		{in: "${HOST:-unused}", want: "10.0.0.1", vars: true},
		{in: "${UNSET:-}", want: "", vars: true},
		{in: "${UNSET:-a:-b}", want: "a:-b", vars: true},
		{in: "$$", want: "$"},
		{in: "$${HOST}", want: "${HOST}"},
		{in: "cost: $$5", want: "cost: $5"},
		{in: "^a.*$", want: "^a.*$"},
		{in: "$HOST", want: "$HOST"},
		{in: "a$", want: "a$"},
		{in: "$$$${HOST}", want: "$${HOST}"},
		{in: "$$${HOST}", want: "$10.0.0.1", vars: true},
		{in: "${UNSET}", errs: []string{`environment variable "UNSET" is not set (write "${UNSET:-default}" for a default)`}},
		{in: "${HOST", errs: []string{`unterminated "${" (write "$${" for a literal "${")`}},
		{in: "${}", errs: []string{`invalid reference "${}": a name is a letter or _ followed by letters, digits and _`}},
		{in: "${9}", errs: []string{`invalid reference "${9}": a name is a letter or _ followed by letters, digits and _`}},
		{in: "${A B}", errs: []string{`invalid reference "${A B}": a name is a letter or _ followed by letters, digits and _`}},
		{in: "${HOST-x}", errs: []string{`invalid reference "${HOST-x}": the only form with a default is "${NAME:-default}"`}},
		{in: "${HOST:x}", errs: []string{`invalid reference "${HOST:x}": the only form with a default is "${NAME:-default}"`}},
		{in: "${HOST:?}", errs: []string{`invalid reference "${HOST:?}": the only form with a default is "${NAME:-default}"`}},
		{in: "${A:-${B}}", errs: []string{`invalid reference "${A:-${B}": a default cannot hold another reference`}},
		{in: "${U1}${U2}", errs: []string{
			`environment variable "U1" is not set (write "${U1:-default}" for a default)`,
			`environment variable "U2" is not set (write "${U2:-default}" for a default)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, gotVars, errs := expand(tt.in, env(vars))
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Fatalf("errors: got %q, want %q", errs, tt.errs)
			}
			if errs != nil {
				return
			}
			if got != tt.want || gotVars != tt.vars {
				t.Errorf("got %q (vars %v), want %q (vars %v)", got, gotVars, tt.want, tt.vars)
			}
		})
	}
}

// TestExpandCannotInjectStructure: a variable's value is text inside the
// one scalar that references it, whatever YAML it looks like.
func TestExpandCannotInjectStructure(t *testing.T) {
	inject := map[string]string{
		"RULE":  "x: {evil: 1}",
		"PATH1": "a.log]\n  - name: evil\n    type: stdin",
		"LEVEL": "info\nstate_dir: /tmp/evil",
	}
	src := `
rules: [rules, "${RULE}"]
sources:
  - name: app
    type: file
    paths: ["${PATH1}"]
log:
  format: "${LEVEL}"
`
	_, err := parse(t, src, inject)
	// log.format holds the whole injected text and is refused as a value;
	// nothing else is reported, so no key was added.
	want := `secwatch.yaml:8:11: log.format: must be one of auto, json, console, got the value of "${LEVEL}"`
	if got := errString(err); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	src = strings.Replace(src, "log:\n  format: \"${LEVEL}\"\n", "", 1)
	c, err := parse(t, src, inject)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Rules, []string{"rules", "x: {evil: 1}"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Rules: got %q, want %q", got, want)
	}
	if len(c.Sources) != 1 {
		t.Fatalf("got %d sources, want 1", len(c.Sources))
	}
	if got, want := c.Sources[0].Paths, []string{inject["PATH1"]}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths: got %q, want %q", got, want)
	}
	if c.StateDir != DefaultStateDir {
		t.Errorf("StateDir: got %q, want the default", c.StateDir)
	}
}

// TestExpandOnlyValues: keys are never expanded, and a quoted or block
// scalar is expanded like a plain one.
func TestExpandOnlyValues(t *testing.T) {
	src := "sources:\n  - name: a\n    type: stdin\n    time_field: |\n      ${F}\nstate_dir: '${D}'\n"
	c, err := parse(t, src, map[string]string{"F": "ts", "D": "/d"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sources[0].TimeField != "ts\n" || c.StateDir != "/d" {
		t.Errorf("got time_field %q, state_dir %q", c.Sources[0].TimeField, c.StateDir)
	}
	_, err = parse(t, "sources: [{name: in, type: stdin}]\n${K}: 1\n", map[string]string{"K": "state_dir"})
	if got, want := errString(err), `secwatch.yaml:2:1: ${K}: unknown field`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "a", "${A}", "${A:-b}", "$$", "$${A}", "${", "${A", "x$", "${A:-${B}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, vars, errs := expand(s, env(map[string]string{"A": "v"}))
		if !strings.Contains(s, "$") && (got != s || vars || errs != nil) {
			t.Errorf("expand(%q) = %q, %v, %q; want it unchanged", s, got, vars, errs)
		}
	})
}
