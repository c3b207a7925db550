package rules

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/testutil"
)

// TestCaptureCopyOnWrite checks, at every cut of an input and for several
// paces of the walk, that a capture begun at the cut, during which the
// engine observes the rest of the input (evicting, dropping, reusing and
// reordering groups, and advancing its clock), decodes to exactly the
// engine's Snapshot at the cut.
func TestCaptureCopyOnWrite(t *testing.T) {
	// Many groups for few kept: evictions and reuse. And sparse events
	// over a few groups, nothing evicted: groups dropped as they expire.
	sparse := binaryEvents(150)
	for i := range sparse {
		sparse[i].at *= 5
	}
	cases := []struct {
		name   string
		engine func() *Engine
		events []in
	}{
		{"evicting", imageEngine, imageEvents(150)},
		{"expiring", func() *Engine { e := NewEngine(binaryRules()); e.MaxLateness = time.Second; return e }, sparse},
	}
	var img Image
	for _, c := range cases {
		inProgress := 0
		for _, pace := range []int{1, 2, 5} {
			for cut := range len(c.events) + 1 {
				e := c.engine()
				run(t, e, c.events[:cut])
				want, err := json.Marshal(e.Snapshot())
				if err != nil {
					t.Fatal(err)
				}
				e.BeginCapture(&img)
				for i, ev := range c.events[cut:] {
					e.Observe(mkEvent(ev))
					if i == 0 && e.cap != nil {
						inProgress++
					}
					if i%7 == 3 {
						e.Advance(at(ev.at + 2))
					}
					e.CaptureStep(pace)
				}
				e.FinishCapture()
				s, err := DecodeSnapshot(img.AppendTo(nil))
				if err != nil {
					t.Fatalf("%s, pace %d, cut %d: %v", c.name, pace, cut, err)
				}
				if got, _ := json.Marshal(s); string(got) != string(want) {
					t.Fatalf("%s, pace %d, cut %d: image differs from the state at its beginning:\ngot  %s\nwant %s", c.name, pace, cut, got, want)
				}
			}
		}
		if inProgress < len(c.events) {
			t.Errorf("%s: the capture was still in progress after the next event at %d cuts only: the test exercises too little copy-on-write", c.name, inProgress)
		}
	}
}

// TestCaptureCopyOnWriteSealed: the same with an engine restored from a
// snapshot whose group keys and distinct values are sealed, which events
// then unseal during the capture. The image encodes to the bytes an
// immediate capture at the cut encodes to.
func TestCaptureCopyOnWriteSealed(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 2))
	var keys []string
	for range 4 {
		keys = append(keys, testutil.NewSecret(r))
	}
	byKey := threshold(20*time.Second, 0, 2, "api_key")
	byKey.ID, byKey.Hash = "by-key", "h1"
	spray := threshold(20*time.Second, 0, 1, "ip")
	spray.ID, spray.Hash, spray.Distinct = "spray", "h3", "password"
	rs := []*Rule{byKey, spray}
	var events []in
	for i := range 80 {
		events = append(events, in{float64(i) * 0.9, fmt.Sprintf("type=fail ip=10.0.0.%d api_key=%s password=%s",
			r.IntN(3), keys[r.IntN(len(keys))], keys[r.IntN(len(keys))])})
	}
	e0 := NewEngine(rs)
	run(t, e0, events[:30])
	saved, err := DecodeSnapshot(e0.AppendSnapshot(nil))
	if err != nil {
		t.Fatal(err)
	}
	var img Image
	for _, pace := range []int{1, 3} {
		for cut := 30; cut <= len(events); cut++ {
			e := NewEngine(rs)
			e.MaxKeys = 4
			e.Restore(saved)
			run(t, e, events[30:cut])
			want := e.AppendSnapshot(nil)
			e.BeginCapture(&img)
			for _, ev := range events[cut:] {
				e.Observe(mkEvent(ev))
				e.CaptureStep(pace)
			}
			e.FinishCapture()
			if got := img.AppendTo(nil); string(got) != string(want) {
				t.Fatalf("pace %d, cut %d: the image encodes to %d bytes differing from the %d of a capture at the cut", pace, cut, len(got), len(want))
			}
		}
	}
}

// TestCaptureStepAllocs: once an image has grown to the state's size, a
// capture walked a group at a time allocates nothing.
func TestCaptureStepAllocs(t *testing.T) {
	e := NewEngine(binaryRules())
	run(t, e, binaryEvents(200))
	var img Image
	e.Capture(&img)
	n := testing.AllocsPerRun(20, func() {
		e.BeginCapture(&img)
		for !e.CaptureStep(1) {
		}
	})
	if n != 0 {
		t.Errorf("BeginCapture and CaptureStep: %v allocs, want 0", n)
	}
}
