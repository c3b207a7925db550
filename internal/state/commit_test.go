package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestCommit(t *testing.T) {
	d := open(t)
	for _, n := range []string{"gone", "kept", "over"} {
		if err := d.Write(n, []byte("old "+n)); err != nil {
			t.Fatal(err)
		}
	}
	var files []File
	for i := range 20 {
		files = append(files, File{Name: fmt.Sprintf("f%02d", i), Payload: []byte(strings.Repeat("x", i))})
	}
	files = append(files, File{Name: "over", Payload: []byte("new over")})
	werrs, err := d.Commit(files, []string{"gone", "never-was"})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range werrs {
		if e != nil {
			t.Errorf("file %s: %v", files[i].Name, e)
		}
	}
	for _, f := range files {
		got, err := d.Read(f.Name)
		if err != nil || string(got) != string(f.Payload) {
			t.Errorf("%s: %q, %v; want %q", f.Name, got, err, f.Payload)
		}
	}
	names, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, "gone") || !slices.Contains(names, "kept") || len(names) != len(files)+1 {
		t.Errorf("files after commit: %v", names)
	}
}

// A failed step fails only the files it hit: the others are written, the
// failed ones keep their old content, and no temporary file stays.
func TestCommitFailures(t *testing.T) {
	for _, step := range []string{"create", "write", "sync", "rename"} {
		t.Run(step, func(t *testing.T) {
			d := open(t)
			if err := d.Write("b", []byte("old b")); err != nil {
				t.Fatal(err)
			}
			n := 0
			d.fault = func(s string) error {
				if s == step {
					if n++; n == 2 { // the second file's step
						return syscall.ENOSPC
					}
				}
				return nil
			}
			files := []File{{"a", []byte("new a")}, {"b", []byte("new b")}, {"c", []byte("new c")}}
			werrs, err := d.Commit(files, nil)
			d.fault = nil
			if err != nil {
				t.Fatal(err)
			}
			if werrs[0] != nil || werrs[2] != nil || !errors.Is(werrs[1], syscall.ENOSPC) {
				t.Fatalf("errors %v; want only b's ENOSPC", werrs)
			}
			for name, want := range map[string]string{"a": "new a", "b": "old b", "c": "new c"} {
				if got, err := d.Read(name); err != nil || string(got) != want {
					t.Errorf("%s: %q, %v; want %q", name, got, err, want)
				}
			}
			checkNoTemps(t, d)
		})
	}
	t.Run("syncdir", func(t *testing.T) {
		d := open(t)
		failAt(d, "syncdir", syscall.EIO)
		if _, err := d.Commit([]File{{"a", []byte("a")}}, nil); !errors.Is(err, syscall.EIO) {
			t.Errorf("directory sync failure: %v; want EIO", err)
		}
	})
}

// BenchmarkCommit compares making 64 small files durable one Write at a
// time (two fsyncs each) with one Commit of all 64.
//
//	go test -run '^$' -bench Commit ./internal/state/
func BenchmarkCommit(b *testing.B) {
	payload := []byte(strings.Repeat("a", 2000))
	const n = 64
	b.Run("write-each", func(b *testing.B) {
		d, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for range b.N {
			for i := range n {
				if err := d.Write(fmt.Sprintf("f%d", i), payload); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "files/s")
	})
	b.Run("commit", func(b *testing.B) {
		d, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		files := make([]File, n)
		for i := range files {
			files[i] = File{Name: fmt.Sprintf("f%d", i), Payload: payload}
		}
		for range b.N {
			if _, err := d.Commit(files, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "files/s")
	})
}
