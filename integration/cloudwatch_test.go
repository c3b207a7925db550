package integration

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
)

// The CloudWatch source against kumo (docs/aws.md). kumo's FilterLogEvents
// returns at most Limit events and never a nextToken, so the tests keep
// every poll's window under 10,000 events by driving the source's clock
// (CloudWatch.Now) through virtual time: event timestamps lie hours in the
// past and the clock advances round by round. Pagination itself is
// unit-tested with a fake client in internal/ingest.

// countingLogs counts the polls the source starts (requests without a
// nextToken) and completes.
type countingLogs struct {
	*cloudwatchlogs.Client
	started, finished atomic.Int64
}

func (c *countingLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	if in.NextToken == nil {
		c.started.Add(1)
	}
	out, err := c.Client.FilterLogEvents(ctx, in, optFns...)
	if err == nil && aws.ToString(out.NextToken) == "" {
		c.finished.Add(1)
	}
	return out, err
}

// cwFixture is a log group with five streams and a source reading it.
type cwFixture struct {
	t       *testing.T
	logs    *cloudwatchlogs.Client // for puts, straight to kumo
	group   string
	streams []string
	clock   atomic.Int64 // the source's now, epoch ms

	mu   sync.Mutex
	recs []ingest.Record

	restart func() bool // see pollPast
}

func newCWFixture(t *testing.T) *cwFixture {
	t.Helper()
	endpoint := startEmulator(t)
	f := &cwFixture{t: t, logs: cloudwatchlogs.NewFromConfig(awsConfig(endpoint)), group: "/secwatch-it/" + uniqueName(t, "cw")}
	ctx := t.Context()
	if _, err := f.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &f.group}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s := fmt.Sprintf("mcp-server/task-%d", i)
		if _, err := f.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &f.group, LogStreamName: &s}); err != nil {
			t.Fatal(err)
		}
		f.streams = append(f.streams, s)
	}
	return f
}

// cwEvent is one event to put.
type cwEvent struct {
	seq    int
	stream int
	ts     int64
}

// put writes events, each stream's batch sorted by timestamp (as
// PutLogEvents requires).
func (f *cwFixture) put(evs []cwEvent) {
	f.t.Helper()
	by := make([][]types.InputLogEvent, len(f.streams))
	for _, e := range evs {
		msg := fmt.Sprintf(`{"seq":%d,"timestamp":%d,"event_type":"authentication_failure"}`, e.seq, e.ts)
		by[e.stream] = append(by[e.stream], types.InputLogEvent{Timestamp: aws.Int64(e.ts), Message: aws.String(msg)})
	}
	for i, batch := range by {
		slices.SortFunc(batch, func(a, b types.InputLogEvent) int { return int(*a.Timestamp - *b.Timestamp) })
		for len(batch) > 0 {
			n := min(len(batch), 5000)
			_, err := f.logs.PutLogEvents(f.t.Context(), &cloudwatchlogs.PutLogEventsInput{
				LogGroupName: &f.group, LogStreamName: &f.streams[i], LogEvents: batch[:n]})
			if err != nil {
				f.t.Fatal(err)
			}
			batch = batch[n:]
		}
	}
}

// source returns a source reading the group through client.
func (f *cwFixture) source(client *countingLogs, cursors []ingest.CloudWatchCursor, stats *ingest.SourceStats) *ingest.CloudWatch {
	return &ingest.CloudWatch{
		Name: "cw", Client: client, LogGroups: []string{f.group},
		NewParser:    func() (format.Parser, error) { return format.NewParser("json", format.Options{PlainText: true}) },
		PollInterval: 10 * time.Millisecond, MaxRequestsPerSecond: 1000,
		Cursors: cursors, Stats: stats,
		Now: func() time.Time { return time.UnixMilli(f.clock.Load()) },
	}
}

// run starts src, collecting its records, until the returned stop is
// called or, when stopAfter > 0, stopAfter events have been received (then
// stopped is closed); stop returns the cursor of the last record received.
func (f *cwFixture) run(src *ingest.CloudWatch, stopAfter int) (stop func() []ingest.CloudWatchCursor, stopped <-chan struct{}) {
	ctx, cancel := context.WithCancel(f.t.Context())
	out := make(chan ingest.Record)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	var last []ingest.CloudWatchCursor
	var mu sync.Mutex
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		n := 0
		for {
			select {
			case r := <-out:
				f.mu.Lock()
				f.recs = append(f.recs, r)
				f.mu.Unlock()
				mu.Lock()
				last = []ingest.CloudWatchCursor{r.Cursor.(ingest.CloudWatchCursor)}
				mu.Unlock()
				if !r.Progress {
					n++
				}
				if n == stopAfter {
					cancel() // stop half-way, in the middle of a page
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() []ingest.CloudWatchCursor {
		cancel()
		<-collected
		if err := <-done; err != nil {
			f.t.Fatalf("Run: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		return last
	}, collected
}

// pollPast waits until the source has finished a poll that started after
// now and sent its records. f.restart, if set, may replace the source
// meanwhile (true), whose polls then count.
func (f *cwFixture) pollPast(client func() *countingLogs) {
	f.t.Helper()
	c := client()
	s := c.started.Load()
	eventually(f.t, 30*time.Second, "no complete poll", func() bool {
		if f.restart != nil && f.restart() {
			c, s = client(), 0
		}
		// Polls run one after the other: once the poll after the first
		// one started since now has its answer, the first one's records
		// have all been sent.
		return c.finished.Load() > s+1
	})
}

// check asserts that each of n events arrived exactly once, by event id
// and by content.
func (f *cwFixture) check(n int) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	byID, bySeq := map[string]int{}, map[string]int{}
	for _, r := range f.recs {
		if r.Progress {
			continue
		}
		id, _ := r.Event.Get("@event_id")
		seq, _ := r.Event.Get("seq")
		byID[id]++
		bySeq[seq]++
		if g, _ := r.Event.Get("@log_group"); g != f.group {
			f.t.Errorf("event %s: got @log_group %q", seq, g)
		}
	}
	var dups, missing []string
	for s, c := range bySeq {
		if c > 1 {
			dups = append(dups, s)
		}
	}
	for i := range n {
		if bySeq[fmt.Sprint(i)] == 0 {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(dups) > 0 || len(missing) > 0 || len(bySeq) != n {
		slices.Sort(dups)
		slices.Sort(missing)
		f.t.Errorf("%d distinct events of %d; repeated %d (%v), missing %d (%v)", len(bySeq), n, len(dups), dups[:min(len(dups), 20)], len(missing), missing[:min(len(missing), 20)])
	}
	if len(byID) != len(bySeq) {
		f.t.Errorf("got %d distinct event ids for %d distinct events", len(byID), len(bySeq))
	}
}

// scenario produces 10,000 events in 20 rounds of 30 s of virtual time, at
// unique timestamps out of order by up to 60 s, 5% of each round held back
// and put after the source has polled past them (visible late, within
// the overlap). between runs after each round.
func (f *cwFixture) scenario(client func() *countingLogs, between func(round int)) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-6 * time.Hour).UnixMilli()
	f.clock.Store(base)
	used := map[int64]bool{}
	var late []cwEvent
	seq := 0
	for round := range 20 {
		end := base + int64(round+1)*30_000
		var now []cwEvent
		for range 500 {
			nominal := end - 30_000 + rng.Int64N(30_000)
			ts := nominal - rng.Int64N(60_000)
			for used[ts] { // kumo's event ids are "<ts>-<index in stream>": keep them unique
				ts++
			}
			used[ts] = true
			e := cwEvent{seq: seq, stream: rng.IntN(5), ts: ts}
			seq++
			if rng.IntN(20) == 0 {
				late = append(late, e)
			} else {
				now = append(now, e)
			}
		}
		f.put(now)
		f.clock.Store(end)
		f.pollPast(client)
		f.put(late) // older than the polls that have run: visible late
		late = nil
		between(round)
	}
	f.clock.Add(1000)
	f.pollPast(client)
	f.pollPast(client)
}

func TestCloudWatchLateAndOutOfOrder(t *testing.T) {
	t.Parallel()
	f := newCWFixture(t)
	client := &countingLogs{Client: f.logs}
	stats := new(ingest.SourceStats)
	stop, _ := f.run(f.source(client, nil, stats), -1)
	f.scenario(func() *countingLogs { return client }, func(int) {})
	stop()
	f.check(10_000)
	if got := stats.Events.Load(); got != 10_000 {
		t.Errorf("got Stats.Events %d, want 10000", got)
	}
	if lag := time.Duration(stats.Lag.Load()); lag < 0 || lag > 2*time.Minute {
		t.Errorf("got Stats.Lag %v, want the virtual lag (0..2m)", lag)
	}
}

func TestCloudWatchRestart(t *testing.T) {
	t.Parallel()
	f := newCWFixture(t)
	client := &countingLogs{Client: f.logs}
	// Stopped in the middle of a page (the source waits to send the
	// 4,322nd event), restarted from the cursor of the last record.
	stop, stopped := f.run(f.source(client, nil, nil), 4321)
	restarted := false
	f.restart = func() bool {
		select {
		case <-stopped:
		default:
			return false
		}
		if restarted {
			return false
		}
		restarted = true
		cursors := stop()
		if len(cursors) != 1 || len(cursors[0].IDs) == 0 {
			t.Fatalf("got cursors %+v, want one with ids", cursors)
		}
		client = &countingLogs{Client: f.logs}
		stop, _ = f.run(f.source(client, cursors, nil), -1)
		return true
	}
	f.scenario(func() *countingLogs { return client }, func(int) {})
	stop()
	if !restarted {
		t.Fatal("never restarted")
	}
	f.check(10_000)
}

// throttlingProxy answers a fraction of the requests in front of target
// with CloudWatch's throttling error (awsJson1_1: HTTP 400, the type in
// x-amzn-ErrorType and __type).
func throttlingProxy(t *testing.T, target string, fraction *atomic.Int64) (endpoint string, throttled *atomic.Int64) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	throttled = new(atomic.Int64)
	var calls atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Deterministic: while the storm lasts every other call is refused,
		// starting with the first, so a storm always throttles and the
		// source still makes progress between its backoffs.
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".FilterLogEvents") && fraction.Load() > 0 && calls.Add(1)%2 == 1 {
			io.Copy(io.Discard, r.Body)
			throttled.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, throttled
}

func TestCloudWatchThrottlingStorm(t *testing.T) {
	t.Parallel()
	f := newCWFixture(t)
	var fraction atomic.Int64
	fraction.Store(50) // percent: every other call
	endpoint, refused := throttlingProxy(t, startEmulator(t), &fraction)
	client := &countingLogs{Client: cloudwatchlogs.NewFromConfig(awsConfig(endpoint))}
	stats := new(ingest.SourceStats)
	stop, _ := f.run(f.source(client, nil, stats), -1)
	f.scenario(func() *countingLogs { return client }, func(round int) {
		if round == 1 {
			fraction.Store(0) // the storm ends
		}
	})
	stop()
	f.check(10_000)
	if got := stats.Throttled.Load(); got == 0 || got != refused.Load() {
		t.Errorf("got Stats.Throttled %d, want the %d requests the proxy refused", got, refused.Load())
	}
}
