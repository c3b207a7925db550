package rules_test

import (
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

func TestExplainMiss(t *testing.T) {
	const file = `rules:
  - id: r
    match:
      event_type: auth
      client_ip: {not_cidr: [10.0.0.0/8, 192.168.0.0/16]}
      status: {gte: 400}
      any:
        - path: {prefix: /admin}
        - not: {method: [GET, HEAD]}
    window: 1m
  - id: seq
    sequence:
      - match: {outcom: failure}
      - match: {event_type: auth, user: {regex: '^root$'}}
    window: 1m
`
	rs, err := rules.Parse("r.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, fields string
		rule         int
		want         string
		held         int
	}{
		{"not_cidr", "event_type=auth client_ip=10.1.2.3 status=401 path=/admin", 0, "client_ip 10.1.2.3 is in not_cidr 10.0.0.0/8", 3},
		{"numeric", "event_type=auth client_ip=203.0.113.7 status=200 path=/admin", 0, "status 200 is not gte 400", 3},
		{"not a number", "event_type=auth client_ip=203.0.113.7 status=ok", 0, "status ok is not a number (gte 400)", 2},
		{"not an ip", "event_type=auth client_ip=unknown", 0, "client_ip unknown is not an IP address (not_cidr 10.0.0.0/8, 192.168.0.0/16)", 1},
		{"absent", "client_ip=203.0.113.7", 0, `field "event_type" absent`, 1},
		{"any", "event_type=auth client_ip=203.0.113.7 status=500 path=/ method=HEAD", 0, "none of 2 alternatives holds; first: path / is not prefix /admin", 4},
		{"not", "event_type=auth client_ip=203.0.113.7 status=500 method=HEAD", 0, "none of 2 alternatives holds; first: field \"path\" absent", 4},
		{"sequence closest step", "event_type=auth user=admin", 1, "user admin is not regex ^root$", 1},
		{"sequence typo", "outcome=failure", 1, `field "outcom" absent`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := &event.Event{}
			for _, kv := range splitFields(c.fields) {
				ev.Add(kv[0], kv[1])
			}
			m, ok := rules.ExplainMiss(rs[c.rule], ev)
			if ok {
				t.Fatalf("selection holds, want a miss")
			}
			if got := m.String(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if m.Held != c.held {
				t.Errorf("got held %d, want %d", m.Held, c.held)
			}
		})
	}
	ev := &event.Event{}
	ev.Add("outcom", "failure")
	if _, ok := rules.ExplainMiss(rs[1], ev); !ok {
		t.Errorf("sequence step 1 holds, got a miss")
	}
}

func TestExplainMissNegated(t *testing.T) {
	rs, err := rules.Parse("r.yaml", []byte("rules:\n  - id: r\n    match:\n      not: {method: [GET, HEAD]}\n    window: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{}
	ev.Add("method", "HEAD")
	m, ok := rules.ExplainMiss(rs[0], ev)
	if want := "method HEAD holds in HEAD, under not"; ok || m.String() != want {
		t.Errorf("got %q, %v, want %q", m.String(), ok, want)
	}
	if m.Line != 4 || m.Col != 21 {
		t.Errorf("got position %d:%d, want 4:21", m.Line, m.Col)
	}
}

func splitFields(s string) [][2]string {
	var out [][2]string
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}
