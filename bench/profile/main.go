// Command profile replays a corpus through rules as `secwatch replay` does
// (json parser, engine, alert documents written as JSON) and writes CPU and
// heap profiles, for `go tool pprof`. It is a measurement aid, not a
// benchmark: see bench/run.sh for the figures.
//
//	profile -rules bench/rules10.yaml -cpu cpu.prof -heap heap.prof CORPUS
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

func main() {
	rulesPath := flag.String("rules", "bench/rules10.yaml", "rule `file`")
	cpu := flag.String("cpu", "", "write a CPU profile to `file`")
	heap := flag.String("heap", "", "write a heap profile (live objects at the end) to `file`")
	flag.IntVar(&heapAt, "heap-at", 0, "write the heap profile after `n` events instead of at the end")
	rate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: the default; 1: every allocation)")
	flag.Parse()
	if *rate > 0 {
		runtime.MemProfileRate = *rate
	}
	if err := run(*rulesPath, *cpu, *heap, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

var heapAt int

func run(rulesPath, cpu, heap string, files []string) error {
	if len(files) != 1 {
		return fmt.Errorf("want one corpus file")
	}
	rs, err := rulefile.Load(rulesPath)
	if err != nil {
		return err
	}
	fh, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer fh.Close()
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	e := rules.NewEngine(rs)
	out := bufio.NewWriter(io.Discard)
	var alerts, n int
	opts := format.Options{Borrow: true, Fields: rules.FieldsRead(rs)}
	// As replay's fast path: the engine's side expands an alert sample from
	// the line ReplayLines hands over, with a parser of its own.
	xp, err := format.NewParser("json", opts)
	if err != nil {
		return err
	}
	var cur []byte
	e.Expand = func(ev *event.Event) { _ = xp.(format.LineExpander).ExpandLine(ev, cur) }
	dec := ingest.Decoding{Source: "replay", MaxLineBytes: 1 << 20, MaxFuture: ingest.MaxFuture,
		NewParser: func() (format.Parser, error) { return format.NewParser("json", opts) }}
	_, err = ingest.ReplayLines([]ingest.Input{{Name: files[0], R: fh}}, dec,
		func(ev *event.Event, line []byte) error {
			cur = line
			if n++; n == heapAt && heap != "" {
				if err := writeHeap(heap); err != nil {
					return err
				}
				heap = ""
			}
			for _, a := range e.Observe(ev) {
				alerts++
				if err := alerting.WriteJSON(out, &a); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	if heap != "" {
		if err := writeHeap(heap); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "groups held at the end: %v\n", e.Stats())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "heap sys %d MiB, idle %d, released %d, inuse %d; stack %d; other sys %d; total sys %d MiB; gc %d\n",
		ms.HeapSys>>20, ms.HeapIdle>>20, ms.HeapReleased>>20, ms.HeapInuse>>20, ms.StackSys>>20, (ms.OtherSys+ms.GCSys+ms.MSpanSys+ms.MCacheSys+ms.BuckHashSys)>>20, ms.Sys>>20, ms.NumGC)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "Rss") {
				fmt.Fprintln(os.Stderr, l)
			}
		}
	}
	runtime.KeepAlive(e)
	fmt.Fprintf(os.Stderr, "alerts %d\n", alerts)
	return nil
}

func writeHeap(name string) error {
	runtime.GC()
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}
