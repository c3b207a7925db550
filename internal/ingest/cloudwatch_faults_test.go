package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Fault injection on the CloudWatch Logs source: a throttling storm and
// requests that hang (a black-holed endpoint). The source must neither give
// up nor stall, and must read every event exactly once.

// TestCloudWatchThrottlingStorm: 300 throttled requests in a row. Every
// one is counted, the backoff stays capped at a minute, and every event is
// read once when the storm ends.
func TestCloudWatchThrottlingStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		f.pageSize = 3
		now := time.Now().UnixMilli()
		for i := range 10 {
			f.put(g1, "s", now-10_000+int64(i), fmt.Sprintf(`{"n":%d}`, i))
		}
		throttle := &types.ThrottlingException{Message: aws.String("Rate exceeded")}
		for range 300 {
			f.failNext(throttle)
		}
		stats := new(SourceStats)
		c := &CloudWatch{Name: "cw", Client: f, LogGroups: []string{g1}, NewParser: cwJSON, Once: true, Stats: stats}
		start := time.Now()
		recs := runCW(t, t.Context(), c)
		waited := time.Since(start)
		ids := eventIDs(recs)
		seen := map[string]bool{}
		for _, id := range ids {
			seen[id] = true
		}
		if len(ids) != 10 || len(seen) != 10 {
			t.Errorf("got %d events (%d distinct), want 10 once each", len(ids), len(seen))
		}
		if got := stats.Throttled.Load(); got != 300 {
			t.Errorf("Throttled = %d, want 300", got)
		}
		// 300 waits capped at a minute each (jitter over the upper half):
		// never more than 300 minutes, and not hammering either.
		if waited > 300*time.Minute || waited < 100*time.Minute {
			t.Errorf("storm of 300 throttles took %v, want between 100 and 300 minutes of backoff", waited)
		}
		t.Logf("300 throttles: %v of backoff, %d events read once", waited.Round(time.Second), len(ids))
	})
}

// hangingLogs hangs the first hangs FilterLogEvents calls until their
// context ends, as a black-holed connection would, then behaves as fakeLogs.
type hangingLogs struct {
	*fakeLogs
	hangs int32
	hung  atomic.Int32
}

func (h *hangingLogs) FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	if h.hung.Add(1) <= h.hangs {
		<-ctx.Done()
		return nil, &aws.RequestCanceledError{Err: ctx.Err()}
	}
	return h.fakeLogs.FilterLogEvents(ctx, in, opts...)
}

// TestCloudWatchHangingRequest: requests that never answer are cut by the
// source's request timeout and retried; the events behind them are read.
func TestCloudWatchHangingRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeLogs()
		now := time.Now().UnixMilli()
		for i := range 5 {
			f.put(g1, "s", now-10_000+int64(i), fmt.Sprintf(`{"n":%d}`, i))
		}
		h := &hangingLogs{fakeLogs: f, hangs: 3}
		var bad []string
		c := &CloudWatch{Name: "cw", Client: h, LogGroups: []string{g1}, NewParser: cwJSON, Once: true,
			Bad: func(p Position, r string) { bad = append(bad, p.File+": "+r) }}
		start := time.Now()
		recs := runCW(t, t.Context(), c)
		if got := len(cwEvents(recs)); got != 5 {
			t.Errorf("got %d events, want 5", got)
		}
		if len(bad) == 0 {
			t.Errorf("hanging requests not reported")
		}
		t.Logf("3 hanging requests cut and retried in %v; reported: %q", time.Since(start).Round(time.Second), bad)
	})
}
