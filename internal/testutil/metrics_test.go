package testutil

import "testing"

func TestSortLabels(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"secwatch_up", "secwatch_up"},
		{`x{source="app",kind="permanent"}`, `x{kind="permanent",source="app"}`},
		{`x{kind="permanent",source="app"}`, `x{kind="permanent",source="app"}`},
		{`x{b="a,\"c=\\",a="1"}`, `x{a="1",b="a,\"c=\\"}`},
	} {
		if got := SortLabels(c.in); got != c.want {
			t.Errorf("SortLabels(%s): got %s, want %s", c.in, got, c.want)
		}
	}
}
