package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// binaryRules are one rule of each kind: counting, distinct, absent and
// sequence, so that every part of the encoding is exercised.
func binaryRules() []*Rule {
	success := &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"ok"}}}}
	distinct := threshold(10*time.Second, 0, 2, "ip")
	distinct.ID, distinct.Distinct, distinct.Hash = "distinct", "key", "h2"
	count := threshold(10*time.Second, 30*time.Second, 2, "ip")
	count.Hash = "h1"
	absent := &Rule{ID: "quiet", Hash: "h3", Kind: KindAbsent, Match: success, GroupBy: []string{"ip"}, Absent: 15 * time.Second}
	seq := &Rule{ID: "seq", Hash: "h4", Kind: KindSequence, GroupBy: []string{"ip"}, Window: 60 * time.Second,
		Cooldown: 60 * time.Second, Steps: []Step{{Match: failures, Threshold: 2}, {Match: success}}}
	return []*Rule{count, distinct, absent, seq}
}

func binaryEvents(n int) []in {
	var events []in
	rng := newRand(7)
	for i := range n {
		typ := "fail"
		if rng.n(4) == 0 {
			typ = "ok"
		}
		at := float64(i) * 0.7
		if rng.n(10) == 0 {
			at -= 1.3 // a little out of order
		}
		events = append(events, in{at, fmt.Sprintf("type=%s ip=%c key=k%d note=n%d", typ, 'a'+rng.n(3), rng.n(4), rng.n(2))})
	}
	return events
}

// TestBinarySnapshotRoundTrip checks, at every cut of an input, that the
// binary encoding written straight from the engine decodes to exactly the
// engine's Snapshot, that EncodeSnapshot writes the same state, and that an
// engine restored from it goes on to raise the alerts of one uninterrupted
// run.
func TestBinarySnapshotRoundTrip(t *testing.T) {
	rs := binaryRules()
	events := binaryEvents(120)
	whole := run(t, NewEngine(rs), events)
	if len(whole) < 10 {
		t.Fatalf("only %d alerts in the whole run; the test needs more to mean something", len(whole))
	}
	var sawSamples, sawSteps, sawVals bool
	for cut := range len(events) + 1 {
		e1 := NewEngine(rs)
		got := run(t, e1, events[:cut])
		want := e1.Snapshot()
		b := e1.AppendSnapshot([]byte("prefix"))[len("prefix"):]
		s, err := DecodeSnapshot(b)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if !reflect.DeepEqual(s, want) {
			gj, _ := json.Marshal(s)
			wj, _ := json.Marshal(want)
			t.Fatalf("cut %d: decoded snapshot differs from Snapshot():\ngot  %s\nwant %s", cut, gj, wj)
		}
		s2, err := DecodeSnapshot(EncodeSnapshot(nil, want))
		if err != nil || !reflect.DeepEqual(s2, want) {
			t.Fatalf("cut %d: EncodeSnapshot does not round-trip (err %v)", cut, err)
		}
		for _, r := range want.Rules {
			for _, g := range r.Groups {
				sawSamples = sawSamples || len(g.Samples) > 0
				sawSteps = sawSteps || len(g.Steps) > 0
				sawVals = sawVals || len(g.Vals) > 0
			}
		}
		e2 := NewEngine(rs)
		restored, discarded := e2.Restore(s)
		if len(restored) != len(rs) || len(discarded) != 0 {
			t.Fatalf("cut %d: restored %v discarded %v", cut, restored, discarded)
		}
		got = append(got, run(t, e2, events[cut:])...)
		if a, b := alertLines(got), alertLines(whole); a != b {
			t.Fatalf("cut %d: alerts differ from one uninterrupted run:\ngot:\n%s\nwant:\n%s", cut, a, b)
		}
	}
	if !sawSamples || !sawSteps || !sawVals {
		t.Fatalf("the input never exercised samples (%v), steps (%v) or distinct values (%v)", sawSamples, sawSteps, sawVals)
	}
}

// TestBinarySnapshotSmallerThanJSON keeps the point of the encoding.
func TestBinarySnapshotSmallerThanJSON(t *testing.T) {
	e := NewEngine(binaryRules())
	run(t, e, binaryEvents(400))
	j, err := json.Marshal(e.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	b := e.AppendSnapshot(nil)
	if 3*len(b) > len(j) {
		t.Errorf("binary snapshot %d bytes, JSON %d: want at most a third", len(b), len(j))
	}
}

// TestRuleStatsEncoded fails when RuleStats gains a field the binary
// encoding does not write: add it to snapEncoder.rule and DecodeSnapshot.
func TestRuleStatsEncoded(t *testing.T) {
	if n := reflect.TypeFor[RuleStats]().NumField(); n != 8 {
		t.Fatalf("RuleStats has %d fields; the binary snapshot encodes 8 (Rule and Groups implicitly)", n)
	}
}

func realSnapshot(t testing.TB) []byte {
	e := NewEngine(binaryRules())
	for _, i := range binaryEvents(60) {
		e.Observe(mkEvent(i))
	}
	return e.AppendSnapshot(nil)
}

// TestBinarySnapshotCorrupt: every truncation and every single-byte change
// of a real snapshot is an error or a valid snapshot, never a panic; a
// truncation is always an error.
func TestBinarySnapshotCorrupt(t *testing.T) {
	b := realSnapshot(t)
	for n := range len(b) {
		if _, err := DecodeSnapshot(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
	if _, err := DecodeSnapshot(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("trailing byte: no error")
	}
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			if s, err := DecodeSnapshot(c); err == nil {
				NewEngine(binaryRules()).Restore(s)
			}
		}
	}
	for _, in := range [][]byte{nil, []byte("SWES"), []byte("SWES\x02"), []byte("{\"version\":1}"),
		append([]byte("SWES\x01\x00\x00\x00"), 0xff, 0xff, 0xff, 0xff, 0x0f)} {
		if _, err := DecodeSnapshot(in); err == nil {
			t.Errorf("DecodeSnapshot(%q): no error", in)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(realSnapshot(f))
	f.Add(EncodeSnapshot(nil, &Snapshot{Version: SnapshotVersion}))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSnapshot(data)
		if err != nil {
			return
		}
		// What decodes encodes back to the same state.
		s2, err := DecodeSnapshot(EncodeSnapshot(nil, s))
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatal("re-encoded snapshot decodes differently")
		}
		e := NewEngine(binaryRules())
		e.Restore(s)
		e.AppendSnapshot(nil)
	})
}
