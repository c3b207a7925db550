package ingest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestReadAheadFile reads a file of several blocks through readAhead with
// reads of many sizes and wants every byte in order, then io.EOF for good.
func TestReadAheadFile(t *testing.T) {
	want := make([]byte, 3*readAheadBlock+12345)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range want {
		want[i] = byte(rng.IntN(256))
	}
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, stop := newReadAhead(f)
	defer stop()
	if _, ok := r.(*readAhead); !ok {
		t.Fatalf("a regular file is not read ahead: %T", r)
	}
	var got []byte
	p := make([]byte, 100_000)
	for {
		n, err := r.Read(p[:1+rng.IntN(len(p)-1)])
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if n, err := r.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("after the end: %d, %v; want 0, EOF", n, err)
	}
}

// TestReadAheadNotFile: what is not a regular file is read as it is (a
// pipe's read may block after the consumer stopped).
func TestReadAheadNotFile(t *testing.T) {
	in := bytes.NewReader([]byte("a\n"))
	if r, _ := newReadAhead(in); r != io.Reader(in) {
		t.Fatalf("a bytes.Reader is wrapped: %T", r)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if r, _ := newReadAhead(pr); r != io.Reader(pr) {
		t.Fatalf("a pipe is wrapped: %T", r)
	}
}

// failAfter gives its data in reads of at most 1,000 bytes, the last of
// them together with err.
type failAfter struct {
	data []byte
	err  error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n := copy(p, f.data[:min(len(f.data), 1000)])
	f.data = f.data[n:]
	if len(f.data) == 0 {
		return n, f.err
	}
	return n, nil
}

// TestReadAheadError: an error comes after every byte read before it, and
// stays.
func TestReadAheadError(t *testing.T) {
	boom := errors.New("disk on fire")
	data := bytes.Repeat([]byte("0123456789"), 450)
	a := startReadAhead(&failAfter{data: data, err: boom})
	defer a.close()
	got, err := io.ReadAll(a)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes before the error, want %d", len(got), len(data))
	}
	if _, err := a.Read(make([]byte, 10)); !errors.Is(err, boom) {
		t.Fatalf("error not sticky: %v", err)
	}
}

// TestReadAheadClose: a consumer that stops early stops the goroutine.
func TestReadAheadClose(t *testing.T) {
	before := runtime.NumGoroutine()
	a := startReadAhead(&failAfter{data: make([]byte, 100*readAheadBlock), err: io.EOF})
	if _, err := a.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	a.close()
	a.close() // twice is harmless
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}
