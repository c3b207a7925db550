package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/secwatch/secwatch/internal/format"
)

// fakeLogs is a log group store answering FilterLogEvents like CloudWatch:
// events of the asked time range (end inclusive) sorted by timestamp, in
// pages of pageSize with a nextToken.
type fakeLogs struct {
	mu       sync.Mutex
	pageSize int
	events   map[string][]types.FilteredLogEvent // by group, visible ones
	groups   []string                            // for DescribeLogGroups
	errs     []error                             // returned by the next calls, in order
	calls    []*cloudwatchlogs.FilterLogEventsInput
	callTime []time.Time
}

func newFakeLogs() *fakeLogs {
	return &fakeLogs{pageSize: 1000, events: map[string][]types.FilteredLogEvent{}}
}

// put makes events visible: ts in ms, id "<stream>-<n>", message given.
func (f *fakeLogs) put(group, stream string, ts int64, msg string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("%s-%d", stream, len(f.events[group]))
	f.events[group] = append(f.events[group], types.FilteredLogEvent{
		EventId: aws.String(id), LogStreamName: aws.String(stream), Timestamp: aws.Int64(ts), Message: aws.String(msg),
	})
	return id
}

func (f *fakeLogs) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, errs...)
}

func (f *fakeLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *in
	f.calls = append(f.calls, &cp)
	f.callTime = append(f.callTime, time.Now())
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	if (in.LogGroupName == nil) == (in.LogGroupIdentifier == nil) {
		return nil, &types.InvalidParameterException{Message: aws.String("exactly one of logGroupName and logGroupIdentifier")}
	}
	group := aws.ToString(in.LogGroupName) + aws.ToString(in.LogGroupIdentifier)
	all, ok := f.events[group]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	var match []types.FilteredLogEvent
	for _, e := range all {
		ts := *e.Timestamp
		if in.StartTime != nil && ts < *in.StartTime || in.EndTime != nil && ts > *in.EndTime {
			continue
		}
		if !strings.HasPrefix(*e.LogStreamName, aws.ToString(in.LogStreamNamePrefix)) ||
			!strings.Contains(*e.Message, aws.ToString(in.FilterPattern)) {
			continue
		}
		match = append(match, e)
	}
	slices.SortStableFunc(match, func(a, b types.FilteredLogEvent) int { return int(*a.Timestamp - *b.Timestamp) })
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	to := min(from+f.pageSize, len(match))
	out := &cloudwatchlogs.FilterLogEventsOutput{Events: match[from:to]}
	if to < len(match) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func (f *fakeLogs) DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &cloudwatchlogs.DescribeLogGroupsOutput{}
	for _, g := range f.groups {
		if strings.HasPrefix(g, aws.ToString(in.LogGroupNamePrefix)) {
			out.LogGroups = append(out.LogGroups, types.LogGroup{LogGroupName: aws.String(g)})
		}
	}
	return out, nil
}

func (f *fakeLogs) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func cwJSON() (format.Parser, error) {
	return format.NewParser("json", format.Options{PlainText: true})
}

// runCW runs c until ctx is done or Run returns, collecting the records.
func runCW(t *testing.T, ctx context.Context, c *CloudWatch) []Record {
	t.Helper()
	out := make(chan Record)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	var recs []Record
	for {
		select {
		case r := <-out:
			recs = append(recs, r)
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			return recs
		}
	}
}

func cwEvents(recs []Record) []Record {
	var evs []Record
	for _, r := range recs {
		if !r.Progress {
			evs = append(evs, r)
		}
	}
	return evs
}

func eventIDs(recs []Record) []string {
	var s []string
	for _, r := range cwEvents(recs) {
		v, _ := r.Event.Get("@event_id")
		s = append(s, v)
	}
	return s
}

// lastCursor is what the daemon would checkpoint.
func lastCursor(recs []Record) []CloudWatchCursor {
	if len(recs) == 0 {
		return nil
	}
	return []CloudWatchCursor{recs[len(recs)-1].Cursor.(CloudWatchCursor)}
}

const g1 = "/mcp-tagging/prod"

func TestCloudWatchPagingOrderAndFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		f.pageSize = 4
		now := time.Now().UnixMilli()
		var want []string
		for i := range 10 {
			// streams interleaved; timestamps out of put order
			ts := now - 60_000 + int64((i*7)%10)*1000
			want = append(want, f.put(g1, "s"+strconv.Itoa(i%3), ts, fmt.Sprintf(`{"n":%d,"ts":%d}`, i, ts)))
		}
		stats := new(SourceStats)
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Once: true, Stats: stats}
		recs := runCW(t, t.Context(), c)

		// want in timestamp order
		slices.SortFunc(want, func(a, b string) int { return strings.Compare(a, b) })
		got := eventIDs(recs)
		if len(got) != 10 {
			t.Fatalf("got %d events, want 10: %v", len(got), got)
		}
		var prev int64
		for _, r := range cwEvents(recs) {
			ts := r.Event.Time.UnixMilli()
			if ts < prev {
				t.Errorf("event at %d after %d: not in timestamp order", ts, prev)
			}
			prev = ts
			for _, k := range []string{"@source", "@log_group", "@log_stream", "@event_id", "n"} {
				if _, ok := r.Event.Get(k); !ok {
					t.Errorf("event %v: no field %s", r.Event.Map(), k)
				}
			}
			if v, _ := r.Event.Get("@log_group"); v != g1 {
				t.Errorf("got @log_group %q, want %q", v, g1)
			}
			if c := r.Cursor.(CloudWatchCursor); c.Key != "cw:"+g1 || c.Millis < ts {
				t.Errorf("got cursor %+v after event at %d", r.Cursor, ts)
			}
		}
		if n := f.numCalls(); n != 3 {
			t.Errorf("got %d requests, want 3 pages of 4", n)
		}
		for i, in := range f.calls {
			if got, want := aws.ToInt64(in.StartTime), now-2*60_000; got != want {
				t.Errorf("request %d: got startTime %d, want %d (start - overlap)", i, got, want)
			}
			if got := aws.ToInt64(in.EndTime); got != now {
				t.Errorf("request %d: got endTime %d, want %d", i, got, now)
			}
			if (i > 0) != (in.NextToken != nil) {
				t.Errorf("request %d: nextToken %v", i, in.NextToken)
			}
		}
		if got := stats.Events.Load(); got != 10 {
			t.Errorf("got Stats.Events %d, want 10", got)
		}
		// A group without a cursor starts at the source's start, which is
		// after every event read.
		last := recs[len(recs)-1]
		if got, want := last.Cursor.(CloudWatchCursor).Millis, now; got != want {
			t.Errorf("got final offset %d, want %d", got, want)
		}
		if got := len(last.Cursor.(CloudWatchCursor).IDs); got != 10 {
			t.Errorf("got %d ids in the cursor, want 10", got)
		}
	})
}

// Events that become visible late, with timestamps the source has already
// polled past, are read by the next poll's overlap, and the re-read of the
// overlap sends nothing twice.
func TestCloudWatchLateEventsAndDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		ctx, cancel := context.WithCancel(t.Context())
		out := make(chan Record)
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, PollInterval: 5 * time.Second}
		t0 := time.Now().UnixMilli()
		f.put(g1, "a", t0-1000, `{"n":1}`)
		done := make(chan error)
		go func() { done <- c.Run(ctx, out) }()
		var got []string
		collect := func() {
			for {
				select {
				case r := <-out:
					if !r.Progress {
						v, _ := r.Event.Get("n")
						got = append(got, v)
					}
				default:
					synctest.Wait()
					select {
					case r := <-out:
						if !r.Progress {
							v, _ := r.Event.Get("n")
							got = append(got, v)
						}
						continue
					default:
					}
					return
				}
			}
		}
		collect()
		time.Sleep(10 * time.Second)
		// visible late: stamped before the last poll's end, within overlap
		f.put(g1, "b", t0+2000, `{"n":2}`)
		f.put(g1, "a", t0+11_000, `{"n":3}`)
		collect()
		time.Sleep(60 * time.Second) // many re-reads of the same window
		collect()
		f.put(g1, "b", time.Now().UnixMilli()-110_000, `{"n":4}`) // 110s late, overlap 120s
		// A quiet group's cursor stays Overlap behind the last poll's end, so
		// the window is twice Overlap; beyond it, lost.
		f.put(g1, "b", time.Now().UnixMilli()-250_000, `{"n":5}`)
		time.Sleep(6 * time.Second)
		collect()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if want := []string{"1", "2", "3", "4"}; !slices.Equal(got, want) {
			t.Errorf("got events %v, want %v", got, want)
		}
	})
}

// A source stopped in the middle of a page and started again from the
// cursor of the last record the daemon received sends the rest, once.
func TestCloudWatchRestartFromCursor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		f.pageSize = 7
		now := time.Now().UnixMilli()
		for i := range 50 {
			f.put(g1, "s"+strconv.Itoa(i%5), now-50_000+int64(i/3)*1000, fmt.Sprintf(`{"n":%d}`, i))
		}
		for stopAfter := range 50 {
			ctx, cancel := context.WithCancel(t.Context())
			out := make(chan Record)
			c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Once: true,
				Cursors: []CloudWatchCursor{{Key: "cw:" + g1, Millis: now - 60_000}}}
			done := make(chan error)
			go func() { done <- c.Run(ctx, out) }()
			var first []Record
			for len(cwEvents(first)) < stopAfter {
				first = append(first, <-out)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// round trip through JSON like the checkpoint
			b, _ := json.Marshal(lastCursor(first))
			var cursors []CloudWatchCursor
			json.Unmarshal(b, &cursors)
			if len(cursors) == 0 {
				cursors = c.Cursors
			}
			c2 := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Once: true, Cursors: cursors}
			second := runCW(t, t.Context(), c2)
			all := append(eventIDs(first), eventIDs(second)...)
			seen := map[string]int{}
			for _, id := range all {
				seen[id]++
			}
			if len(all) != 50 || len(seen) != 50 {
				t.Fatalf("stop after %d: got %d events, %d distinct, want 50 once each", stopAfter, len(all), len(seen))
			}
		}
	})
}

func TestCloudWatchThrottlingBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		f.pageSize = 2
		now := time.Now().UnixMilli()
		for i := range 6 {
			f.put(g1, "s", now-10_000+int64(i), fmt.Sprintf(`{"n":%d}`, i))
		}
		throttle := &types.ThrottlingException{Message: aws.String("Rate exceeded")}
		unavailable := &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("service unavailable")}
		stats := new(SourceStats)
		var bad []string
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Once: true, Stats: stats,
			Bad: func(p Position, r string) { bad = append(bad, p.File+": "+r) }}
		// First page fine; then the second page fails five times.
		ctx := t.Context()
		out := make(chan Record)
		done := make(chan error)
		go func() { done <- c.Run(ctx, out) }()
		var recs []Record
		recs = append(recs, <-out, <-out) // the first page's two events
		f.failNext(throttle, throttle, throttle, unavailable, throttle)
		start := time.Now()
	loop:
		for {
			select {
			case r := <-out:
				recs = append(recs, r)
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				break loop
			}
		}
		waited := time.Since(start)
		if got := len(cwEvents(recs)); got != 6 {
			t.Errorf("got %d events, want 6", got)
		}
		if got := stats.Throttled.Load(); got != 4 {
			t.Errorf("got Stats.Throttled %d, want 4", got)
		}
		if len(bad) != 1 || !strings.Contains(bad[0], "service unavailable") {
			t.Errorf("got Bad %q, want the 503 once", bad)
		}
		// backoffs of at least 0.5, 1, 2, 4, 8 s
		if waited < 15*time.Second || waited > 32*time.Second {
			t.Errorf("waited %v for five failures, want 15.5s..31s", waited)
		}
		// each retry repeats the failed request
		for i := 2; i <= 6; i++ {
			if got := aws.ToString(f.calls[i].NextToken); got != "2" {
				t.Errorf("request %d: got nextToken %q, want the failed page's %q", i, got, "2")
			}
		}
	})
}

func TestCloudWatchRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		f.pageSize = 1
		now := time.Now().UnixMilli()
		for i := range 9 {
			f.put(g1, "s", now-1000+int64(i), `{}`)
		}
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Once: true, MaxRequestsPerSecond: 2}
		runCW(t, t.Context(), c)
		if len(f.callTime) != 9 {
			t.Fatalf("got %d requests, want 9", len(f.callTime))
		}
		for i := 1; i < len(f.callTime); i++ {
			if d := f.callTime[i].Sub(f.callTime[i-1]); d < 500*time.Millisecond {
				t.Errorf("requests %d and %d %v apart, want >= 500ms", i-1, i, d)
			}
		}
	})
}

func TestCloudWatchRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		now := time.Now().UnixMilli()
		f.put(g1, "s", now-3000, "{\"ok\":\"\xff\"}")
		long := f.put(g1, "s", now-2000, `{"x":"`+strings.Repeat("a", 100)+`"}`)
		f.put(g1, "s", now-1500, `{"broken":`)
		f.put(g1, "s", now-1000, "plain text line")
		stats := new(SourceStats)
		var bad []string
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Stats: stats, MaxLineBytes: 64,
			PollInterval: time.Second, Bad: func(p Position, r string) { bad = append(bad, p.File+": "+r) }}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // ten polls
		defer cancel()
		recs := runCW(t, ctx, c)
		evs := cwEvents(recs)
		if len(evs) != 1 {
			t.Fatalf("got %d events, want 1", len(evs))
		}
		if v, _ := evs[0].Event.Get("message"); v != "plain text line" || evs[0].Event.Time.UnixMilli() != now-1000 {
			t.Errorf("got %v at %v, want the text in message at the CloudWatch time", evs[0].Event.Map(), evs[0].Event.Time)
		}
		if stats.InvalidUTF8.Load() != 1 || stats.Oversize.Load() != 1 || stats.Malformed.Load() != 1 || stats.Lines.Load() != 4 {
			t.Errorf("got invalid %d, oversize %d, malformed %d, lines %d; want 1, 1, 1, 4",
				stats.InvalidUTF8.Load(), stats.Oversize.Load(), stats.Malformed.Load(), stats.Lines.Load())
		}
		if len(bad) != 3 {
			t.Fatalf("got Bad %q, want 3 reports (once each, not on re-reads)", bad)
		}
		if want := g1 + "/s:" + long + ": line too long: more than 64 bytes"; bad[1] != want {
			t.Errorf("got %q, want %q", bad[1], want)
		}
		if !strings.Contains(bad[0], "invalid utf-8 at byte 7") {
			t.Errorf("got %q, want invalid utf-8 at byte 7", bad[0])
		}
	})
}

// An event stamped in the future is read when its time has come, and does
// not move the cursor past the events still to come.
func TestCloudWatchFutureEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		now := time.Now().UnixMilli()
		f.put(g1, "s", now+time.Hour.Milliseconds(), `{"n":"future"}`)
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, PollInterval: time.Minute}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
		defer cancel()
		out := make(chan Record)
		done := make(chan error)
		go func() { done <- c.Run(ctx, out) }()
		var got []string
		go func() {
			time.Sleep(10 * time.Minute)
			f.put(g1, "s", time.Now().UnixMilli()-1000, `{"n":"now"}`)
		}()
		for {
			select {
			case r := <-out:
				if !r.Progress {
					v, _ := r.Event.Get("n")
					got = append(got, v)
				}
				continue
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			}
			break
		}
		if len(got) != 1 || got[0] != "now" {
			t.Errorf("got %v, want [now] (the future event not yet)", got)
		}
	})
}

func TestCloudWatchPrefixAndGoneGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		now := time.Now().UnixMilli()
		f.groups = []string{"/app/a", "/app/b", "/other"}
		f.put("/app/a", "s", now-1000, `{"g":"a"}`)
		f.put("/app/b", "s", now-1000, `{"g":"b"}`)
		f.put("/other", "s", now-1000, `{"g":"other"}`)
		f.groups = append(f.groups, "/app/gone")
		c := &CloudWatch{Name: "cw", Client: f, LogGroupPrefix: "/app/", NewParser: cwJSON, Once: true,
			Cursors: []CloudWatchCursor{{Key: "cw:/old/group", Millis: 1}, {Key: "cw:/app/a", Millis: now - 30_000}}}
		recs := runCW(t, t.Context(), c)
		var got []string
		var done []string
		for _, r := range recs {
			if r.Done {
				done = append(done, r.Cursor.CursorKey())
			}
			if !r.Progress {
				v, _ := r.Event.Get("g")
				got = append(got, v)
			}
		}
		if want := []string{"a", "b"}; !slices.Equal(got, want) {
			t.Errorf("got events of %v, want %v", got, want)
		}
		slices.Sort(done)
		if want := []string{"cw:/app/gone", "cw:/old/group"}; !slices.Equal(done, want) {
			t.Errorf("got Done for %v, want %v", done, want)
		}
		if got := aws.ToInt64(f.calls[0].StartTime); got != now-30_000-120_000 {
			t.Errorf("/app/a: got startTime %d, want its cursor - overlap", got)
		}
	})
}

func TestCloudWatchConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    CloudWatch
		want string
	}{
		{"no client", CloudWatch{LogGroups: []string{"/a"}, NewParser: cwJSON}, "no client"},
		{"no groups", CloudWatch{Client: newFakeLogs(), NewParser: cwJSON}, "log_groups: required (or log_group_prefix)"},
		{"both", CloudWatch{Client: newFakeLogs(), LogGroups: []string{"/a"}, LogGroupPrefix: "/b", NewParser: cwJSON}, "log_groups: only one of log_groups and log_group_prefix may be set"},
		{"no parser", CloudWatch{Client: newFakeLogs(), LogGroups: []string{"/a"}}, "no parser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Run(t.Context(), make(chan Record))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCursorJSONWithIDs(t *testing.T) {
	c := CloudWatchCursor{Key: "cw:/g", Group: "/g", Millis: 1700000000000, IDs: []string{"1", "2"}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"key":"cw:/g","path":"/g","offset":1700000000000,"ids":["1","2"]}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	// A cursor as older versions stored it (one cursor type for files and
	// groups) decodes the same.
	for _, in := range [][]byte{b, []byte(`{"key":"cw:/g","path":"/g","fingerprint":"","offset":1700000000000,"line":0,"ids":["1","2"]}`)} {
		var back CloudWatchCursor
		if err := json.Unmarshal(in, &back); err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("round trip of %s: got %+v, %v", in, back, err)
		}
	}
}

// TestCloudWatchLagTakesAcceptedEvents: a rejected event newer than the
// accepted ones does not move Stats.Lag (it feeds the lag alarm).
func TestCloudWatchLagTakesAcceptedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		now := time.Now().UnixMilli()
		f.put(g1, "s", now-5000, `{"n":"ok"}`)
		f.put(g1, "s", now-1000, `{"broken":`)
		stats := new(SourceStats)
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Stats: stats,
			PollInterval: time.Hour}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second) // one poll
		defer cancel()
		if evs := cwEvents(runCW(t, ctx, c)); len(evs) != 1 {
			t.Fatalf("got %d events, want 1", len(evs))
		}
		if got, want := time.Duration(stats.Lag.Load()), 5*time.Second; got != want {
			t.Errorf("Lag: got %v, want %v (the accepted event's, not the rejected one's)", got, want)
		}
	})
}
