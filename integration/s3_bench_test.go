package integration

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// BenchmarkS3Throughput measures lines per second through the S3 source
// (ListObjectsV2 and GetObject against kumo over loopback HTTP, gunzip,
// the alb parser, the shipped rules/alb.yaml pack) and, in the same run,
// through `secwatch replay`'s path (ingest.Replay of the same lines from a
// plain local file into an engine with the same rules). With -count N
// the two alternate N times. Each iteration reads 100 objects of 1,000
// lines.
func BenchmarkS3Throughput(b *testing.B) {
	const nObj, nLines = 100, 1000
	f := newS3Fixture(b)
	objs := albObjects(b, time.Now(), nObj, nLines)
	f.put(b, objs)
	local := filepath.Join(b.TempDir(), "alb.log")
	fh, err := os.Create(local)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range objs {
		fh.Write(o.plain)
	}
	if err := fh.Close(); err != nil {
		b.Fatal(err)
	}
	rs, err := rulefile.Load("../rules/alb.yaml")
	if err != nil {
		b.Fatal(err)
	}
	newParser := func() (format.Parser, error) { return format.NewParser("alb", format.Options{}) }
	newEngine := func() *rules.Engine {
		e := rules.NewEngine(rs)
		e.MaxLateness = time.Hour
		return e
	}
	// report gives lines per second of wall time and of CPU time (user +
	// sys of the whole process since cpu0: the emulator runs in it too).
	report := func(b *testing.B, cpu0 time.Duration, lines, alerts int64) {
		if want := int64(b.N * nObj * nLines); lines != want {
			b.Fatalf("lines read: got %d, want %d", lines, want)
		}
		b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
		b.ReportMetric(float64(lines)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
		b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
	}

	b.Run("s3", func(b *testing.B) {
		var lines, alerts int64
		cpu0 := cpuTime()
		for b.Loop() {
			engine := newEngine()
			stats := new(ingest.SourceStats)
			src := &ingest.S3{Name: "alb", S3: f.s3, Bucket: f.bucket, Prefix: albPrefix, NewParser: newParser,
				Reconcile: time.Hour, Stats: stats}
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan ingest.Record, 1024)
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, out) }()
			for read := 0; read < nObj; {
				r := <-out
				switch {
				case r.Progress:
					if c, ok := r.Cursor.(ingest.S3Cursor); ok && c.Done && !r.Done {
						read++
					}
				default:
					alerts += int64(len(engine.Observe(&r.Event)))
				}
			}
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			lines += stats.Lines.Load()
		}
		report(b, cpu0, lines, alerts)
	})

	b.Run("replay", func(b *testing.B) {
		var lines, alerts int64
		cpu0 := cpuTime()
		for b.Loop() {
			engine := newEngine()
			in, err := os.Open(local)
			if err != nil {
				b.Fatal(err)
			}
			stats, err := ingest.Replay([]ingest.Input{{Name: local, R: in}}, ingest.Decoding{Source: "alb", NewParser: newParser},
				func(ev *event.Event) error {
					alerts += int64(len(engine.Observe(ev)))
					return nil
				})
			in.Close()
			if err != nil {
				b.Fatal(err)
			}
			lines += stats.Lines.Load()
		}
		report(b, cpu0, lines, alerts)
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
