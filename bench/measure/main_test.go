package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestMeasure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code, err := run([]string{"-stdout", out, "--", "sh", "-c", "echo hello; exit 3"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code %d, want the command's 3", code)
	}
	var r Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("report %q: %v", stdout.String(), err)
	}
	if r.ExitCode != 3 || r.WallSeconds <= 0 || r.MaxRSSKiB <= 0 || r.CPUSeconds != r.UserSeconds+r.SysSeconds {
		t.Errorf("report %+v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != "hello\n" {
		t.Errorf("command's stdout %q, want %q", b, "hello\n")
	}
}

func TestMeasureNoCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code, err := run(nil, &stdout, &stderr); code != 2 || err == nil {
		t.Errorf("got %d, %v; want 2 and an error", code, err)
	}
	if code, err := run([]string{"--", "/nonexistent/cmd"}, &stdout, &stderr); code == 0 || err == nil {
		t.Errorf("missing command: got %d, %v; want a failure", code, err)
	}
}
