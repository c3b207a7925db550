package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// imageEngine returns an engine that drops and evicts groups often, so
// that the engine reuses their keys' memory, times and sample buffers
// soon after a capture.
func imageEngine() *Engine {
	e := NewEngine(binaryRules())
	e.MaxKeys = 3
	e.MaxLateness = time.Second
	return e
}

// imageEvents are binaryEvents over more groups than imageEngine keeps:
// groups that never fire are evicted and their memory reused.
func imageEvents(n int) []in {
	events := binaryEvents(n)
	for i := range events {
		ip := fmt.Sprintf("ip=%c%c", 'a'+i%5, 'a'+i/5%3)
		events[i].fields = strings.Replace(events[i].fields, "ip=", ip+"_", 1)
	}
	return events
}

// TestImageIsOneInstant checks, at every cut of an input, that an image
// captured at the cut and encoded only after the engine went on to the
// end of the input decodes to exactly the engine's Snapshot at the cut.
func TestImageIsOneInstant(t *testing.T) {
	events := imageEvents(120)
	var img Image // reused from cut to cut, as the daemon does
	for cut := range len(events) + 1 {
		e := imageEngine()
		run(t, e, events[:cut])
		// Marshalled now: Snapshot's group values share the engine's
		// memory, which the rest of the input reuses.
		want, err := json.Marshal(e.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		e.Capture(&img)
		run(t, e, events[cut:])
		s, err := DecodeSnapshot(img.AppendTo([]byte("prefix"))[len("prefix"):])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if got, _ := json.Marshal(s); string(got) != string(want) {
			t.Fatalf("cut %d: image differs from the state at its capture:\ngot  %s\nwant %s", cut, got, want)
		}
	}
}

// TestImageEncodedBesideEngine encodes images on another goroutine while
// the engine observes: under -race, any memory the two share and the
// engine writes is reported.
func TestImageEncodedBesideEngine(t *testing.T) {
	events := imageEvents(400)
	e := imageEngine()
	var imgs [2]Image
	done := make(chan []byte, 1)
	done <- nil
	for i, ev := range events {
		e.Observe(mkEvent(ev))
		if i%25 != 0 {
			continue
		}
		<-done // the image about to be reused is no longer being encoded
		img := &imgs[i/25%2]
		want := e.AppendSnapshot(nil)
		e.Capture(img)
		go func() {
			got := img.AppendTo(nil)
			if string(got) != string(want) {
				t.Errorf("event %d: image encodes to %d bytes differing from AppendSnapshot's %d", i, len(got), len(want))
			}
			done <- got
		}()
	}
	<-done
}

// TestCaptureAllocs: once an image has grown to the state's size, a
// capture allocates nothing.
func TestCaptureAllocs(t *testing.T) {
	e := NewEngine(binaryRules())
	run(t, e, binaryEvents(400))
	var img Image
	e.Capture(&img)
	if n := testing.AllocsPerRun(20, func() { e.Capture(&img) }); n != 0 {
		t.Errorf("Capture: %v allocs, want 0", n)
	}
}
