package match

import "testing"

func TestParseAndMatch(t *testing.T) {
	labels := map[string]string{"severity": "high", "rule": "alb-path-scan", "team": "sec ops"}
	lookup := func(n string) string { return labels[n] }
	for _, tc := range []struct {
		name, in string
		want     bool
	}{
		{"equal", "severity=high", true},
		{"equal quoted", `severity="high"`, true},
		{"equal other", "severity=low", false},
		{"not equal", "severity!=low", true},
		{"regexp anchored", "severity=~hi", false},
		{"regexp alternation", `severity=~"high|critical"`, true},
		{"not regexp", `rule!~"alb-.*"`, false},
		{"missing label is empty", `owner=""`, true},
		{"missing label not equal", `owner!=x`, true},
		{"spaces around", ` team = "sec ops" `, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := m.Matches(lookup); got != tc.want {
				t.Errorf("%s matches = %v, want %v", m, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"severity", `must be name=value, name!=value, name=~regex or name!~regex, got "severity"`},
		{"=high", `must be name=value, name!=value, name=~regex or name!~regex, got "=high"`},
		{"9x=1", `label name must match [A-Za-z_][A-Za-z0-9_.-]*, got "9x"`},
		{`a=~"("`, `invalid regular expression "(": missing closing ): ` + "`(`"},
		{`a="x`, `value "x: unterminated or invalid quoted string`},
		{`a=two words`, `value "two words" must be double-quoted`},
	} {
		_, err := Parse(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseAll([]string{"a=1", "b"}); err == nil || err.Error()[:11] != "matcher #2:" {
		t.Errorf("ParseAll error = %v, want one naming matcher #2", err)
	}
}

func TestAllEmptyMatchesEverything(t *testing.T) {
	if !All(nil, func(string) string { return "" }) {
		t.Error("All(nil) = false, want true")
	}
}
