package rules

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// snapshotBenchRules are the headline rule and a one-hour distinct rule
// (bench/rules10.yaml's burst and path-probe rules).
const snapshotBenchRules = benchRule + `  - id: mcp-auth-path-probe
    severity: medium
    match:
      event_type: authentication_failure
    group_by: [client_ip]
    distinct: details.path
    window: 1h
    threshold: 20
`

// snapshotBenchEngine holds 50,000 clients' failures, 260 µs apart (the
// soak's rate): eight each, fourteen for every tenth client (which fire
// and keep samples).
func snapshotBenchEngine(b *testing.B) *Engine {
	rs, err := Parse("bench.yaml", []byte(snapshotBenchRules))
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine(rs)
	paths := []string{"/mcp/tools/call", "/mcp/tools/list", "/mcp/resources", "/mcp/prompts", "/admin", "/health"}
	var at time.Duration
	for round := range 14 {
		for c := range 50_000 {
			if round >= 8 && c%10 != 0 {
				continue
			}
			ip := fmt.Sprintf("10.%d.%d.%d", c>>16, (c>>8)&0xff, c&0xff)
			ev := benchEvent("authentication_failure", ip)
			ev.Fields[7].Value = paths[(c+round)%len(paths)]
			at += 260 * time.Microsecond
			ev.Time = t0.Add(at)
			e.Observe(&ev)
		}
	}
	return e
}

// BenchmarkCheckpointEncode compares what a checkpoint costs the daemon:
// before, a deep copy on the engine goroutine (Snapshot) then its JSON
// off it; now, the binary encoding straight from the engine into a reused
// buffer (binary: the engine's pause until this change); now, a copy into
// a reused image on the engine goroutine (capture) and its encoding off it
// (encode-image). -benchmem's B/op is the garbage each makes per
// checkpoint; "bytes" is the encoded size.
func BenchmarkCheckpointEncode(b *testing.B) {
	e := snapshotBenchEngine(b)
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			e.Snapshot()
		}
	})
	b.Run("copy+json", func(b *testing.B) {
		var n int
		for b.Loop() {
			j, err := json.Marshal(e.Snapshot())
			if err != nil {
				b.Fatal(err)
			}
			n = len(j)
		}
		b.ReportMetric(float64(n), "bytes")
	})
	b.Run("binary", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = e.AppendSnapshot(buf[:0])
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	// The engine's pause per checkpoint now: the copy into a reused image.
	b.Run("capture", func(b *testing.B) {
		var img Image
		e.Capture(&img) // grown: the daemon reuses its images
		for b.Loop() {
			e.Capture(&img)
		}
	})
	// Encoding the image, off the engine goroutine.
	b.Run("encode-image", func(b *testing.B) {
		var img Image
		e.Capture(&img)
		var buf []byte
		for b.Loop() {
			buf = img.AppendTo(buf[:0])
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("decode-binary", func(b *testing.B) {
		buf := e.AppendSnapshot(nil)
		for b.Loop() {
			if _, err := DecodeSnapshot(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
