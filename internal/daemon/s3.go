package daemon

import (
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
)

// S3Clients are the clients of a type s3 source.
type S3Clients struct {
	S3  *s3.Client
	SQS *sqs.Client // nil when the source has no queue_url
}

// s3Sources are the S3 sources of a run, by name. They are told of every
// checkpoint saved (checkpointSaved), since they delete queue messages
// only once a checkpoint holds their objects.
type s3Sources struct {
	mu     sync.Mutex
	byName map[string]*ingest.S3
}

// newS3Source builds a type s3 source from its configuration and the
// cursors (its object ledger) of the last checkpoint.
func (d *Daemon) newS3Source(sc config.Source, ck *checkpoint, m *metrics, log zerolog.Logger,
	newParser func() (format.Parser, error), bad func(ingest.Position, string)) (ingest.Source, error) {
	if d.Once {
		// Nothing tells an s3 source that it has read "everything so far".
		return nil, fmt.Errorf("source %q: type s3 does not support --once", sc.Name)
	}
	if d.S3Client == nil {
		return nil, fmt.Errorf("source %q: no S3 client", sc.Name)
	}
	c, err := d.S3Client(sc)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", sc.Name, err)
	}
	src := &ingest.S3{
		Name: sc.Name, S3: c.S3, QueueURL: sc.S3.QueueURL, Bucket: sc.S3.Bucket, Prefix: sc.S3.Prefix,
		Reconcile: sc.S3.Reconcile, NewParser: newParser, MaxLineBytes: sc.MaxLineBytes,
		MaxFuture: d.maxFuture(), Cursors: storedCursors[ingest.S3Cursor](ck, sc.Name, log),
		Stats: m.source(sc.Name).stats, S3Stats: m.s3.stats(sc.Name), Bad: bad,
	}
	if c.SQS != nil {
		src.SQS = c.SQS
	}
	d.s3.mu.Lock()
	if d.s3.byName == nil {
		d.s3.byName = map[string]*ingest.S3{}
	}
	d.s3.byName[sc.Name] = src
	d.s3.mu.Unlock()
	return src, nil
}

// checkpointSaved hands each S3 source its cursors in a checkpoint just
// saved. It does not block.
func (d *Daemon) checkpointSaved(ck *checkpoint) {
	d.s3.mu.Lock()
	defer d.s3.mu.Unlock()
	for name, src := range d.s3.byName {
		src.Saved(ck.Cursors[name])
	}
}

// s3Metrics are the S3 sources' own counters, by source name.
type s3Metrics struct {
	mu     sync.Mutex
	byName map[string]*ingest.S3Stats
}

func (m *s3Metrics) stats(name string) *ingest.S3Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byName == nil {
		m.byName = map[string]*ingest.S3Stats{}
	}
	s := m.byName[name]
	if s == nil {
		s = new(ingest.S3Stats)
		m.byName[name] = s
	}
	return s
}

// write renders the S3 metrics, if there is an S3 source.
func (m *s3Metrics) write(w *scrape) {
	m.mu.Lock()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range m.byName {
			if !yield(n) {
				return
			}
		}
	})
	stats := make([]*ingest.S3Stats, len(names))
	for i, n := range names {
		stats[i] = m.byName[n]
	}
	m.mu.Unlock()
	if len(names) == 0 {
		return
	}
	for _, s := range []struct {
		name, typ, help string
		value           func(*ingest.S3Stats) int64
	}{
		{"secwatch_s3_objects_total", "counter", "objects read to their end", func(s *ingest.S3Stats) int64 { return s.Objects.Load() }},
		{"secwatch_s3_not_found_total", "counter", "objects gone (404) before they were read", func(s *ingest.S3Stats) int64 { return s.NotFound.Load() }},
		{"secwatch_s3_rejected_messages_total", "counter", "queue messages that are no S3 notification, deleted", func(s *ingest.S3Stats) int64 { return s.Rejected.Load() }},
		{"secwatch_s3_reconciler_finds_total", "counter", "objects found by listing that no notification had announced", func(s *ingest.S3Stats) int64 { return s.Finds.Load() }},
		{"secwatch_s3_retries_total", "counter", "S3 requests and reads retried after throttling, 5xx or a broken read", func(s *ingest.S3Stats) int64 { return s.Retries.Load() }},
		{"secwatch_s3_errors_total", "counter", "other failed requests (receive, delete, visibility, list)", func(s *ingest.S3Stats) int64 { return s.Errors.Load() }},
		{"secwatch_s3_messages_deleted_total", "counter", "queue messages deleted once a checkpoint held their objects (or, having none, at once)", func(s *ingest.S3Stats) int64 { return s.Deleted.Load() }},
		{"secwatch_s3_ledger_objects", "gauge", "objects in the ledger", func(s *ingest.S3Stats) int64 { return s.Ledger.Load() }},
	} {
		metricHeader(w, s.name, s.typ, s.help)
		for i, n := range names {
			w.sample(float64(s.value(stats[i])), "source", n)
		}
	}
	metricHeader(w, "secwatch_s3_oldest_message_age_seconds", "gauge", "age of the oldest queue message not yet deleted")
	for i, n := range names {
		w.sample(float64(stats[i].OldestWait.Load())/1e9, "source", n)
	}
}
