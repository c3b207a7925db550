package ingest

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkFileSource is the file source's cost per line: one op is one
// JSON line of about 200 bytes read from a file, parsed and sent as a
// record with its cursor (Once mode, read from the beginning).
func BenchmarkFileSource(b *testing.B) {
	path := filepath.Join(b.TempDir(), "app.log")
	fh, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(fh)
	for i := range b.N {
		w.WriteString(logLine(strconv.Itoa(i), 200))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fh.Close()
	out := make(chan Record, 1024)
	done := make(chan int)
	go func() {
		n := 0
		for range out {
			n++
		}
		done <- n
	}()
	f := &File{Name: "app", Paths: []string{path}, NewParser: newTestParser, Start: "beginning", Once: true}
	b.SetBytes(200)
	b.ReportAllocs()
	b.ResetTimer()
	if err := f.Run(context.Background(), out); err != nil {
		b.Fatal(err)
	}
	close(out)
	n := <-done
	b.StopTimer()
	if n < b.N {
		b.Fatalf("got %d records, want at least %d", n, b.N)
	}
}
