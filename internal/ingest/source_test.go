package ingest

import (
	"encoding/json"
	"testing"
)

// Cursors live in checkpoints: their JSON form is a file format.
func TestCursorJSON(t *testing.T) {
	c := FileCursor{Key: "2049:131", Path: "/var/log/app.log", Fingerprint: "9f86d0", Offset: 4096, Line: 57}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":"2049:131","path":"/var/log/app.log","fingerprint":"9f86d0","offset":4096,"line":57}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back FileCursor
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip: got %+v, %v, want %+v", back, err, c)
	}
}
