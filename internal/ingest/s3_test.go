package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/secwatch/secwatch/internal/format"
)

// statusError is an AWS error with an HTTP status and an error code, as the
// SDK's retry classifiers see them.
type statusError struct {
	status int
	code   string
}

func (e statusError) Error() string       { return fmt.Sprintf("%d %s", e.status, e.code) }
func (e statusError) HTTPStatusCode() int { return e.status }
func (e statusError) ErrorCode() string   { return e.code }

// brokenBody returns its first n bytes, then fails.
type brokenBody struct {
	r io.Reader
}

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// fakeS3 serves a listing and objects, failing as told: each key's
// failures are returned, in order, before it is served.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string][]byte
	failures map[string][]error
	broken   map[string]int // serve only the first n bytes this many times
	gets     map[string]int
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := aws.ToString(in.Key)
	f.gets[k]++
	if errs := f.failures[k]; len(errs) > 0 {
		f.failures[k] = errs[1:]
		return nil, errs[0]
	}
	b, ok := f.objects[k]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	if f.broken[k] > 0 {
		f.broken[k]--
		return &s3.GetObjectOutput{Body: io.NopCloser(&brokenBody{bytes.NewReader(b[:len(b)/2])})}, nil
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, k := range []string{"p/2026/12/07/a.gz", "p/2026/12/07/b.log", "p/2026/12/07/gone"} {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) && k > aws.ToString(in.StartAfter) {
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), ETag: aws.String(`"e-` + k + `"`)})
		}
	}
	return out, nil
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestS3Faults: a 404 is counted and the object marked done; throttling
// and 5xx are retried; a read broken mid-object is retried and continues
// after the lines already sent, so each line is sent once; gzip and plain
// objects are told apart by their bytes.
func TestS3Faults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lines := func(from, n int) string {
			var b strings.Builder
			for i := from; i < from+n; i++ {
				fmt.Fprintf(&b, `{"time":"2026-12-07T10:%02d:00Z","n":%d}`+"\n", i%60, i)
			}
			return b.String()
		}
		f := &fakeS3{
			objects: map[string][]byte{"p/2026/12/07/a.gz": gz(lines(0, 40)), "p/2026/12/07/b.log": []byte(lines(40, 40))},
			failures: map[string][]error{
				"p/2026/12/07/a.gz": {statusError{503, "ServiceUnavailable"}, statusError{400, "SlowDown"}},
			},
			broken: map[string]int{"p/2026/12/07/b.log": 1},
			gets:   map[string]int{},
		}
		stats, s3stats := new(SourceStats), new(S3Stats)
		src := &S3{
			Name: "alb", S3: f, Bucket: "logs", Prefix: "p/",
			NewParser: func() (format.Parser, error) { return format.NewParser("json", format.Options{}) },
			Stats:     stats, S3Stats: s3stats,
			Now: func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) },
		}
		ctx, cancel := context.WithCancel(t.Context())
		out := make(chan Record)
		done := make(chan error)
		go func() { done <- src.Run(ctx, out) }()
		seen := map[string]int{}
		finished := map[string]S3Cursor{}
		for len(finished) < 3 {
			r := <-out
			c := r.Cursor.(S3Cursor)
			if r.Progress {
				if c.Done {
					finished[c.Key] = c
				}
				continue
			}
			n, _ := r.Event.Get("n")
			seen[n]++
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for i := range 80 {
			if got := seen[fmt.Sprint(i)]; got != 1 {
				t.Errorf("line %d sent %d times, want 1", i, got)
			}
		}
		if got := s3stats.NotFound.Load(); got != 1 {
			t.Errorf("not found: got %d, want 1", got)
		}
		if c := finished["logs/p/2026/12/07/gone@e-p/2026/12/07/gone"]; !c.Done || c.Line != 0 {
			t.Errorf("gone object: cursor %+v, want done with no line", c)
		}
		if c := finished["logs/p/2026/12/07/b.log@e-p/2026/12/07/b.log"]; c.Line != 40 {
			t.Errorf("broken object: cursor %+v, want line 40", c)
		}
		if got := stats.Lines.Load(); got != 80 {
			t.Errorf("lines counted: got %d, want 80", got)
		}
		if got, want := s3stats.Retries.Load(), int64(3); got != want {
			t.Errorf("retries: got %d, want %d", got, want)
		}
		if f.gets["p/2026/12/07/a.gz"] != 3 || f.gets["p/2026/12/07/b.log"] != 2 {
			t.Errorf("gets: %v", f.gets)
		}
		if got := s3stats.Finds.Load(); got != 3 {
			t.Errorf("finds: got %d, want 3", got)
		}
	})
}

// TestS3Resume: an object with a cursor from the checkpoint continues
// after its lines; a done one is not read again.
func TestS3Resume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeS3{objects: map[string][]byte{
			"p/2026/12/07/a.gz":  gz(`{"time":"2026-12-07T10:00:01Z","n":1}` + "\n" + `{"time":"2026-12-07T10:00:02Z","n":2}` + "\n" + `{"time":"2026-12-07T10:00:03Z","n":3}` + "\n"),
			"p/2026/12/07/b.log": []byte(`{"time":"2026-12-07T10:00:09Z","n":9}` + "\n"),
		}, gets: map[string]int{}}
		src := &S3{
			Name: "alb", S3: f, Bucket: "logs", Prefix: "p/",
			NewParser: func() (format.Parser, error) { return format.NewParser("json", format.Options{}) },
			Cursors: []S3Cursor{
				{Key: "logs/p/2026/12/07/a.gz@e-p/2026/12/07/a.gz", Line: 2},
				{Key: "logs/p/2026/12/07/b.log@e-p/2026/12/07/b.log", Line: 1, Done: true, At: time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)},
			},
			Now: func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) },
		}
		ctx, cancel := context.WithCancel(t.Context())
		out := make(chan Record)
		done := make(chan error)
		go func() { done <- src.Run(ctx, out) }()
		var got []string
		for finished := 0; finished < 2; { // a.gz, and gone (404)
			r := <-out
			if r.Progress {
				finished++
				continue
			}
			n, _ := r.Event.Get("n")
			got = append(got, n)
		}
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "3" {
			t.Errorf("events: got %v, want only line 3 of a.gz", got)
		}
		if f.gets["p/2026/12/07/b.log"] != 0 {
			t.Errorf("done object read again")
		}
	})
}
