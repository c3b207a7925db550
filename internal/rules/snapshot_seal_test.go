package rules

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/testutil"
)

// TestSnapshotHoldsNoSecrets: rules grouped by a secret-named field, by a
// field holding a credential in its text, and counting distinct secrets.
// At every cut the snapshot holds none of the secrets (group values, distinct
// values, samples), and an engine restored from it raises the alerts of one
// uninterrupted run: the same ids, groups, counts and (redacted) samples.
func TestSnapshotHoldsNoSecrets(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 1))
	var keys, pws []string
	for range 3 {
		keys = append(keys, testutil.NewSecret(r))
		pws = append(pws, testutil.NewSecret(r))
	}
	byKey := threshold(20*time.Second, 0, 2, "api_key")
	byKey.ID, byKey.Hash = "by-key", "h1"
	byURL := threshold(20*time.Second, 0, 2, "request")
	byURL.ID, byURL.Hash = "by-url", "h2"
	spray := threshold(20*time.Second, 0, 1, "ip")
	spray.ID, spray.Hash, spray.Distinct = "spray", "h3", "password"
	rs := []*Rule{byKey, byURL, spray}
	var events []in
	for i := range 90 {
		k := r.IntN(len(keys))
		events = append(events, in{float64(i) * 0.9, fmt.Sprintf("type=fail ip=10.0.0.%d api_key=%s request=/mcp?token=%s password=%s",
			r.IntN(2), keys[k], keys[k], pws[r.IntN(len(pws))])})
	}
	render := func(as []Alert) string {
		var b strings.Builder
		b.WriteString(alertLines(as))
		for _, a := range as {
			for _, s := range a.Samples {
				for _, f := range s.Fields {
					b.WriteString(f.Key + "=" + redact.Value(f.Key, f.Value) + " ")
				}
				b.WriteString("\n")
			}
		}
		return b.String()
	}
	whole := run(t, NewEngine(rs), events)
	if len(whole) < 10 {
		t.Fatalf("only %d alerts in the whole run; the test needs more to mean something", len(whole))
	}
	for cut := range len(events) + 1 {
		e1 := NewEngine(rs)
		got := run(t, e1, events[:cut])
		b := e1.AppendSnapshot(nil)
		for _, s := range append(append([]string(nil), keys...), pws...) {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("cut %d: the snapshot holds the secret %q", cut, s)
			}
		}
		s, err := DecodeSnapshot(b)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		e2 := NewEngine(rs)
		e2.Restore(s)
		got = append(got, run(t, e2, events[cut:])...)
		if a, b := render(got), render(whole); a != b {
			t.Fatalf("cut %d: alerts differ from one uninterrupted run:\ngot:\n%s\nwant:\n%s", cut, a, b)
		}
	}
}

// TestSealValue: only what redaction would change is sealed; sealing is
// deterministic per rule definition and never seals twice.
func TestSealValue(t *testing.T) {
	if got := sealValue(nil, "h", "ip", "10.0.0.1", true); got != "10.0.0.1" {
		t.Errorf("sealValue of a plain value = %q, want it unchanged", got)
	}
	a, b := sealValue(nil, "h", "api_key", "k-1", true), sealValue(nil, "h", "api_key", "k-1", true)
	if a != b || !isSealed(a) || strings.Contains(a, "k-1") {
		t.Errorf("sealValue(api_key) = %q then %q: want one sealed form without the value", a, b)
	}
	if c := sealValue(nil, "other", "api_key", "k-1", true); c == a {
		t.Errorf("two rule definitions seal a value alike: %q", c)
	}
	if again := sealValue(nil, "h", "api_key", a, true); again != a {
		t.Errorf("sealing a sealed value = %q, want %q", again, a)
	}
	if got := sealValue(nil, "h", "request", "/x?token=abc123", true); !isSealed(got) {
		t.Errorf("a credential in text is not sealed: %q", got)
	}
}

// TestSealedGroupsForgotten: once the restored sealed groups have left the
// window, the next snapshot resets the count that makes new groups look
// for them.
func TestSealedGroupsForgotten(t *testing.T) {
	r := threshold(10*time.Second, 0, 5, "api_key")
	r.Hash = "h"
	e1 := NewEngine([]*Rule{r})
	run(t, e1, []in{{0, "type=fail api_key=k-secret-1"}})
	s, err := DecodeSnapshot(e1.AppendSnapshot(nil))
	if err != nil {
		t.Fatal(err)
	}
	e2 := NewEngine([]*Rule{r})
	e2.Restore(s)
	if got := e2.rules[0].sealed; got != 1 {
		t.Fatalf("sealed groups after restore: got %d, want 1", got)
	}
	run(t, e2, []in{{3600, "type=fail api_key=k-secret-2"}}) // sweeps the old group
	e2.AppendSnapshot(nil)
	if got := e2.rules[0].sealed; got != 0 {
		t.Errorf("sealed groups after they expired and a snapshot: got %d, want 0", got)
	}
}
