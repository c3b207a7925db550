package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/state"
)

func openState(t *testing.T) *state.Dir {
	t.Helper()
	d, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestCheckpointV1StillRead loads a JSON checkpoint written by secwatch
// before the binary format (testdata/checkpoint-v1: `secwatch run --once`
// over four events with the rules of checkpoint-v1.rules.yaml), restores
// it, writes it again in the current format and reads that back the same.
func TestCheckpointV1StillRead(t *testing.T) {
	d := openState(t)
	old, err := os.ReadFile("testdata/checkpoint-v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path(), "checkpoint-a"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	ck, problems := loadCheckpoint(d)
	if len(problems) != 0 || ck == nil {
		t.Fatalf("old checkpoint: %v, problems %v", ck, problems)
	}
	if ck.Version != checkpointVersionJSON || ck.Seq != 2 || ck.Engine == nil || len(ck.Cursors["app"]) != 1 {
		t.Fatalf("old checkpoint decoded as version %d seq %d engine %v cursors %v", ck.Version, ck.Seq, ck.Engine != nil, ck.Cursors)
	}
	rs, err := rulefile.Load("testdata/checkpoint-v1.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs)
	if restored, discarded := e.Restore(ck.Engine); len(restored) != 2 || len(discarded) != 0 {
		t.Fatalf("restored %v, discarded %v; want both rules restored", restored, discarded)
	}
	var groups, vals int
	for _, st := range e.Stats() {
		groups += st.Groups
	}
	for _, r := range ck.Engine.Rules {
		for _, g := range r.Groups {
			vals += len(g.Vals)
		}
	}
	if groups != 4 || vals != 4 {
		t.Fatalf("restored %d groups and %d distinct values, want 4 and 4", groups, vals)
	}

	// Written again from the live engine, in the current format.
	ck.engine = e.AppendSnapshot(nil)
	ck.Seq = 3
	if err := saveCheckpoint(d, ck); err != nil {
		t.Fatal(err)
	}
	ck2, problems := loadCheckpoint(d)
	if len(problems) != 0 || ck2 == nil || ck2.Seq != 3 || ck2.Version != checkpointVersion {
		t.Fatalf("rewritten checkpoint: %+v, problems %v", ck2, problems)
	}
	live, err := rules.DecodeSnapshot(e.AppendSnapshot(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ck2.Engine, live) {
		t.Error("engine state changed through the binary checkpoint")
	}
	if !reflect.DeepEqual(ck2.Cursors, ck.Cursors) || !bytes.Equal(ck2.Flood, ck.Flood) || !ck2.Saved.Equal(ck.Saved) {
		t.Errorf("cursors/flood/saved changed: %+v vs %+v", ck2, ck)
	}
	raw, err := d.Read(checkpointFiles[1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(checkpointMagic)) {
		t.Errorf("new checkpoint starts %q, want the binary format", raw[:min(len(raw), 16)])
	}
	// A checkpoint built from a decoded snapshot (no live engine) encodes
	// the same state.
	ck2.engine = nil
	b, err := encodeCheckpoint(ck2)
	if err != nil {
		t.Fatal(err)
	}
	ck3, err := decodeCheckpoint(b)
	if err != nil || !reflect.DeepEqual(ck3.Engine, ck2.Engine) {
		t.Fatalf("re-encoded: %v", err)
	}
}

// A checkpoint whose frame is sound but whose binary payload is not is
// moved aside and reported, never a crash; the other generation is used.
func TestCheckpointBinaryCorruptPayload(t *testing.T) {
	rs, err := rulefile.Load("testdata/checkpoint-v1.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := &checkpoint{Seq: 4, engine: rules.NewEngine(rs).AppendSnapshot(nil)}
	raw, err := encodeCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := [][]byte{
		raw[:len(raw)-1],        // engine truncated
		[]byte(checkpointMagic), // no meta length
		append([]byte(checkpointMagic), binary.AppendUvarint(nil, 1<<40)...),    // meta longer than the file
		append(append([]byte(checkpointMagic), 3), `{"version":1}`...),          // meta cut short
		append(append([]byte(checkpointMagic), 13), `{"version":9}SWES\x01`...), // wrong version
		[]byte(`{"version":2,"seq":5}`),                                         // JSON claiming the new version
	}
	for i, payload := range bad {
		d := openState(t)
		older := &checkpoint{Seq: 3, engine: good.engine}
		if err := saveCheckpoint(d, older); err != nil {
			t.Fatal(err)
		}
		if err := d.Write(checkpointFiles[0], payload); err != nil {
			t.Fatal(err)
		}
		ck, problems := loadCheckpoint(d)
		if ck == nil || ck.Seq != 3 {
			t.Errorf("case %d: resumed from %+v, want the older checkpoint (seq 3)", i, ck)
		}
		if len(problems) != 1 || !errors.Is(problems[0], state.ErrCorrupt) || !strings.Contains(problems[0].Error(), "moved to") {
			t.Errorf("case %d: problems %v, want the bad file moved aside", i, problems)
		}
	}
}
