package daemon

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// slowStore is a backend whose saveCheckpoint says it was entered, waits
// for release, and keeps a copy of the engine part it was given. Only
// saveCheckpoint is called by the checkpoint writer.
type slowStore struct {
	backend
	entered chan struct{}
	release chan struct{}
	saved   [][]byte
}

func (s *slowStore) saveCheckpoint(ck *checkpoint) error {
	s.entered <- struct{}{}
	<-s.release
	s.saved = append(s.saved, bytes.Clone(ck.engine)) // the buffer is reused
	return nil
}

// While one checkpoint is being written, the engine goes on and takes two
// more: the second replaces the first of them, in its image, and what is
// written is each checkpoint's state at the instant it was taken, although
// the engine changed it, while the image was being copied (copy-on-write)
// and before the writer encoded it.
func TestCheckpointsWhileOneIsWritten(t *testing.T) {
	rs, err := rulefile.Load("testdata/checkpoint-v1.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &slowStore{entered: make(chan struct{}, 3), release: make(chan struct{})}
	l := &engineLoop{d: &Daemon{}, log: zerolog.Nop(), store: s, engine: rules.NewEngine(rs),
		flood: &alerting.Flood{}, cursors: map[string]map[string]any{}, metrics: newMetrics()}
	t0 := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	n, during := 0, 0
	// observe feeds count events as the loop does (record): a step of the
	// capture in progress after each.
	observe := func(count int) {
		for range count {
			ev := event.Event{Time: t0.Add(time.Duration(n) * time.Second), Fields: []event.Field{
				{Key: "event_type", Value: "login_failed"},
				{Key: "client_ip", Value: fmt.Sprintf("10.0.0.%d", n%7)},
				{Key: "user", Value: fmt.Sprintf("u%d", n%5)},
			}}
			l.engine.Observe(&ev)
			n++
			if l.capturing != nil {
				during++
				l.captureStep(1)
			}
		}
	}
	// complete is the loop's idle steps.
	complete := func() {
		for l.capturing != nil {
			l.captureStep(1)
		}
	}

	observe(10)
	first := l.engine.AppendSnapshot(nil)
	l.checkpointAsync()
	complete()
	<-s.entered // the writer holds the first checkpoint
	observe(10)
	l.checkpointAsync()
	observe(10) // while the second is copied
	complete()
	replaced := l.ckNext.image
	third := l.engine.AppendSnapshot(nil)
	l.checkpointAsync()
	if l.ckNext != nil {
		t.Error("the third checkpoint did not take the image of the one waiting")
	}
	observe(10) // changes what the third image is copied from, and what it was taken from
	complete()
	if l.ckNext.image != replaced {
		t.Error("the third checkpoint did not reuse the image of the one it replaced")
	}
	observe(10)
	close(s.release)
	l.writes.Wait()

	if during < 10 {
		t.Errorf("only %d events were observed while a capture was in progress: the test shows too little copy-on-write", during)
	}
	if len(s.saved) != 2 {
		t.Fatalf("%d checkpoints written, want 2 (the first, then the third)", len(s.saved))
	}
	for i, want := range [][]byte{first, third} {
		if !bytes.Equal(s.saved[i], want) {
			t.Errorf("checkpoint %d written differs from the engine's state when it was taken (%d bytes, want %d)", i+1, len(s.saved[i]), len(want))
		}
	}
}
