package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestTiny runs the benchmark for one second at 100 lines per second against
// a freshly built secwatch and checks that every marker produced exactly
// one alert and the engine saw every line. It judges no timing.
func TestTiny(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build secwatch with")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "secwatch")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/secwatch/secwatch/cmd/secwatch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{
		"-secwatch", bin, "-rules", "../rules10.yaml", "-work", filepath.Join(dir, "work"),
		"-duration", "1s", "-eps", "100", "-marker-every", "100ms", "-poll", "10ms,50ms", "-drain", "10s", "-json",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	var rs []result
	if err := json.Unmarshal(stdout.Bytes(), &rs); err != nil {
		t.Fatalf("results: %v\n%s", err, stdout.String())
	}
	if len(rs) != 2 {
		t.Fatalf("%d results, want one per poll interval (2)", len(rs))
	}
	for _, r := range rs {
		if r.Markers < 3 {
			t.Errorf("poll %s: only %d markers written in 1s at one per ~100ms", r.PollInterval, r.Markers)
		}
		if r.Matched != r.Markers || r.Repeated != 0 {
			t.Errorf("poll %s: %d of %d markers matched, %d repeated; want every marker exactly once", r.PollInterval, r.Matched, r.Markers, r.Repeated)
		}
		if r.Observed != r.Lines || r.CaughtUp < 0 {
			t.Errorf("poll %s: engine observed %d of %d lines written", r.PollInterval, r.Observed, r.Lines)
		}
	}
}

func TestPercentile(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 200; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 100 * time.Millisecond, 90: 180 * time.Millisecond, 99: 198 * time.Millisecond, 100: 200 * time.Millisecond} {
		if got := percentile(l, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := percentile(l[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one value = %v", got)
	}
}

// TestTrafficParses keeps the background lines valid JSON with the fields
// the bench rules read.
func TestTrafficParses(t *testing.T) {
	tr := newTraffic(newRand(1))
	now := time.Now()
	types := map[string]int{}
	for range 20000 {
		line := tr.line(nil, now)
		var v struct {
			EventType string `json:"event_type"`
			ClientIP  string `json:"client_ip"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if v.ClientIP == "" || v.Timestamp == "" {
			t.Fatalf("missing client_ip or timestamp: %s", line)
		}
		types[v.EventType]++
	}
	for _, want := range []string{"request", "authentication_failure", "cors_violation", "unknown_tool_attempt"} {
		if types[want] == 0 {
			t.Errorf("no %s in 20000 lines: %v", want, types)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(markerLine(nil, "lat-000001", now), &m); err != nil {
		t.Fatal(err)
	}
	if m["event_type"] != markerType || m["details"].(map[string]any)["marker"] != "lat-000001" {
		t.Errorf("marker line: %v", m)
	}
}
