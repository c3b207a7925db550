package state

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeChunks(chunks ...[]byte) func(io.Writer) error {
	return func(w io.Writer) error {
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				return err
			}
		}
		return nil
	}
}

// A streamed file reads back exactly, is an ordinary v1 file (the same
// frame Read verifies) and its corruption is detected.
func TestWriteStreamRoundTrip(t *testing.T) {
	d := open(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB: past the buffer
	for _, chunks := range [][][]byte{nil, {[]byte("x")}, {[]byte(`{"a":`), []byte(`1}`)}, {big[:7], big[7:], []byte("tail")}} {
		want := bytes.Join(chunks, nil)
		if err := d.WriteStream("checkpoint-a", writeChunks(chunks...)); err != nil {
			t.Fatal(err)
		}
		got, err := d.Read("checkpoint-a")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, want %d", len(got), len(want))
		}
		raw, err := os.ReadFile(filepath.Join(d.Path(), "checkpoint-a"))
		if err != nil {
			t.Fatal(err)
		}
		if p, reason := unframe(raw); reason != "" || !bytes.Equal(p, want) {
			t.Fatalf("unframe: %q", reason)
		}
	}
	p := filepath.Join(d.Path(), "checkpoint-a")
	raw, _ := os.ReadFile(p)
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read("checkpoint-a"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("flipped byte: got %v, want a checksum mismatch", err)
	}
	if err := d.WriteStream("checkpoint-a", writeChunks([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(p)
	if err := os.WriteFile(p, raw[:len(raw)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read("checkpoint-a"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated: got %v", err)
	}
}

// A stream that fails — in fill or at any step — leaves the previous
// content readable and no temporary file.
func TestWriteStreamFailureKeepsOldFile(t *testing.T) {
	for _, step := range []string{"create", "write", "fill", "sync", "rename"} {
		t.Run(step, func(t *testing.T) {
			d := open(t)
			if err := d.Write("checkpoint-a", []byte("old")); err != nil {
				t.Fatal(err)
			}
			failAt(d, step, syscall.ENOSPC)
			err := d.WriteStream("checkpoint-a", func(w io.Writer) error {
				w.Write(bytes.Repeat([]byte("new"), 200_000))
				if step == "fill" {
					return syscall.ENOSPC
				}
				return nil
			})
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("got %v, want ENOSPC", err)
			}
			d.fault = nil
			got, err := d.Read("checkpoint-a")
			if err != nil || string(got) != "old" {
				t.Errorf("after failed write: %q, %v; want \"old\"", got, err)
			}
			checkNoTemps(t, d)
		})
	}
}
