package ingest

import (
	"io"
	"runtime"
	"testing"
)

// lineSource yields n bytes of 'x' and a newline, then io.EOF, without
// holding them, and samples the heap as the Reader pulls.
type lineSource struct {
	left     int
	done     bool
	peakHeap uint64
}

func (s *lineSource) Read(p []byte) (int, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peakHeap = max(s.peakHeap, ms.HeapAlloc)
	if s.done {
		return 0, io.EOF
	}
	n := min(len(p), s.left)
	for i := range n {
		p[i] = 'x'
	}
	s.left -= n
	if s.left == 0 && n < len(p) {
		p[n] = '\n'
		n++
		s.done = true
	}
	return n, nil
}

// TestReaderMemory: reading one line allocates about one buffer of
// MaxLineBytes, whether the line is valid (just under the limit) or
// oversize (skipped): growing by doubling all the way would allocate
// twice the limit and hold the smaller buffers as garbage. It asserts
// the bytes allocated (deterministic, with slack) and logs the peak heap.
func TestReaderMemory(t *testing.T) {
	const max = 16 << 20
	tests := []struct {
		name    string
		n       int
		wantErr bool
	}{
		{"valid line just under the limit", max - 1<<20, false},
		{"oversize line of 2.5 times the limit", max * 5 / 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &lineSource{left: tt.n}
			r := NewReader(src, "big")
			r.MaxLineBytes = max
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			line, _, err := r.Next()
			runtime.ReadMemStats(&after)
			if (err != nil) != tt.wantErr || (err == nil && len(line) != tt.n) {
				t.Fatalf("got a line of %d bytes, error %v; want %d bytes, error %v", len(line), err, tt.n, tt.wantErr)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			peak := src.peakHeap - min(src.peakHeap, before.HeapAlloc)
			t.Logf("line of %d MiB, max_line_bytes %d MiB: allocated %.1f MiB, peak heap growth %.1f MiB",
				tt.n>>20, max>>20, float64(alloc)/(1<<20), float64(peak)/(1<<20))
			if limit := uint64(max + max/4); alloc > limit {
				t.Errorf("allocated %d bytes, want at most %d (1.25 × max_line_bytes)", alloc, limit)
			}
		})
	}
}
