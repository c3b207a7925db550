package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The decode loop must read every line of the generator's JSON and count
// its failures; the recorded log's truth says 500 lines, 107 failures.
func TestDecodeRecordedLog(t *testing.T) {
	data, err := os.ReadFile("../../testdata/logs/security-events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	if err := decode(bytes.NewReader(data), &report); err != nil {
		t.Fatal(err)
	}
	if want := "lines 500, authentication failures 107, "; !strings.HasPrefix(report.String(), want) {
		t.Errorf("report %q, want it to start with %q", report.String(), want)
	}
	report.Reset()
	if err := scanOnly(bytes.NewReader(data), &report); err != nil || !strings.HasPrefix(report.String(), "lines 500, ") {
		t.Errorf("scan: %q, %v", report.String(), err)
	}
	if err := decode(strings.NewReader("{\"timestamp\":\"yesterday\"}\n"), &report); err == nil {
		t.Error("a bad timestamp was accepted")
	}
}
