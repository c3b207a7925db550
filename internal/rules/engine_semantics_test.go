package rules

import (
	"net/netip"
	"testing"
	"time"
)

// An event exactly max_lateness behind the rule's time is not late: only
// an event older than that is. It may start a new group, of a threshold
// rule as of a sequence rule.
func TestLatenessBoundary(t *testing.T) {
	success := &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"ok"}}}}
	seq := &Rule{ID: "seq", Kind: KindSequence, GroupBy: []string{"ip"}, Window: 60 * time.Second,
		Cooldown: 60 * time.Second, Steps: []Step{{Match: failures}, {Match: success}}}
	tests := []struct {
		name   string
		rule   *Rule
		events []in
		want   []want
		late   int64
	}{
		{"threshold: exactly max_lateness behind starts a group", threshold(60*time.Second, 0, 0, "ip"),
			[]in{{100, "type=fail ip=b"}, {95, "type=fail ip=a"}},
			[]want{{"b", 100, 1, 100}, {"a", 95, 1, 95}}, 0},
		{"threshold: older than that is late", threshold(60*time.Second, 0, 0, "ip"),
			[]in{{100, "type=fail ip=b"}, {94.999, "type=fail ip=a"}},
			[]want{{"b", 100, 1, 100}}, 1},
		{"sequence: exactly max_lateness behind starts a group", seq,
			[]in{{100, "type=fail ip=b"}, {95, "type=fail ip=a"}, {96, "type=ok ip=a"}},
			[]want{{"a", 96, 2, 95}}, 0},
		{"sequence: older than that is late", seq,
			[]in{{100, "type=fail ip=b"}, {94.999, "type=fail ip=a"}, {96, "type=ok ip=a"}},
			nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine([]*Rule{tt.rule})
			e.MaxLateness = 5 * time.Second
			check(t, run(t, e, tt.events), tt.want)
			if got := e.Stats()[0].Late; got != tt.late {
				t.Errorf("late: got %d, want %d", got, tt.late)
			}
		})
	}
}

func TestGroupValue(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"::FFFF:10.0.0.1", "10.0.0.1"},
		{"2001:DB8:0:0::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"10.0.0.1", "10.0.0.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"401", "401"},
		{"401.0", "401.0"}, // numbers are text in group keys
		{"Authentication failure: invalid key", "Authentication failure: invalid key"},
		{"cafe:bad", "cafe:bad"},
		{"", ""},
	} {
		if got := groupValue(tt.in); got != tt.want {
			t.Errorf("groupValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Ordinary text with a colon, and canonical addresses, cost nothing.
	for _, v := range []string{"Authentication failure: invalid key", "2001:db8::1", "10.0.0.1"} {
		if n := testing.AllocsPerRun(100, func() { groupValue(v) }); n != 0 {
			t.Errorf("groupValue(%q): %v allocs, want 0", v, n)
		}
	}
}

// TestMaybeIPv6 checks that the prefilter never turns away an address
// netip parses as IPv6, whatever its spelling (zones, IPv4 tails, upper
// case, leading zeros in groups).
func TestMaybeIPv6(t *testing.T) {
	for _, v := range []string{
		"::", "::1", "1::", "::ffff:10.0.0.1", "::FFFF:10.0.0.1", "0000:0000::1", "fe80::1%eth0",
		"2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "a:b:c:d:e:f:1:2", "abcd::%x",
		"1:2:3:4:5:6:1.2.3.4", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%zone",
	} {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() {
			t.Fatalf("test case %q is not IPv6 text: %v", v, err)
		}
		if !maybeIPv6(v) {
			t.Errorf("maybeIPv6(%q) = false, want true", v)
		}
	}
	for _, v := range []string{"10.0.0.1", "192.168.100.200", "/mcp/tools/call", "request", "12345:1", "deadbeef:1", "", "%eth0:"} {
		if maybeIPv6(v) {
			t.Errorf("maybeIPv6(%q) = true, want false", v)
		}
	}
}
