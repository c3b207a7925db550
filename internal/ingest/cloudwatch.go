package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// logsAPI is the part of the CloudWatch Logs client the source calls.
type logsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
	// DescribeLogGroups is called only with LogGroupPrefix.
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
}

var _ logsAPI = (*cloudwatchlogs.Client)(nil)

// CloudWatch is a source that reads CloudWatch Logs log groups by polling
// FilterLogEvents. It never lists streams to decide what to
// read: DescribeLogStreams is eventually consistent, and a reader that
// trusts it misses events.
//
// Every PollInterval, for each log group in turn, it asks for the events
// from the group's cursor time minus Overlap up to now, following nextToken
// to the last page, and sends them in the order CloudWatch returns them (by
// timestamp across streams). Events that become visible late (CloudWatch
// makes an event searchable some time after its timestamp, and agents send
// in batches) are still read as long as they become visible within Overlap
// of their timestamp; events already sent are recognised by their event id
// and skipped, so the re-read of the overlap window never sends an event
// twice, after a restart either. A millisecond shared by several events is
// never half read, as with a "last timestamp + 1" cursor: the next request
// starts Overlap earlier.
//
// The cursor of a group (CloudWatchCursor) has Millis = the
// greatest event timestamp, in epoch milliseconds, of the events the source
// has processed (sent or rejected), and IDs = the ids of the processed
// events inside the overlap window before it. After a poll that read the
// group to its end, Millis is at least the poll's end time minus Overlap, so
// that a quiet group (or one whose FilterPattern rarely matches) is not
// searched again from its last event on every poll. Events are asked for
// only up to the time of the poll (the Now clock), so an event stamped in
// the future cannot move the cursor past the events still to come; it is
// read once its time has come. A group without a cursor starts at the time
// the source started minus Overlap: earlier events are not read.
//
// Each event's time is its CloudWatch timestamp, set as the parser's
// fallback: the parser replaces it with the time the message carries (the
// JSON envelope of the mcp format has its own). The daemon makes the
// parsers with format.Options.PlainText, so that with the json format a
// message that is not a JSON object becomes an event with the text in
// "message". Events carry @source (Name),
// @log_group, @log_stream and @event_id. A message longer than
// MaxLineBytes or that is not valid UTF-8 is counted in Stats and reported
// to Bad at the position "<group>/<stream>:<event id>", like a message the
// parser rejects.
//
// Requests go through a client-side limiter (MaxRequestsPerSecond, shared by
// all the groups of the source). A throttled request, a 5xx answer or a
// network error is retried with the same parameters (and nextToken) after a
// jittered exponential backoff of up to a minute, without limit until ctx is
// done: the cursor never moves past events that have not been sent.
// Every request error is counted in Stats.Errors by its ErrorKind
// (throttling in Stats.Throttled too); other errors than throttling are
// reported to Fail, once until the error changes. The SDK's own retries are
// turned off for these requests so that every throttle is counted and
// waited for once. Any other error (access denied, no such group) is
// permanent: the group is tried again on the next poll, and the poll does
// not complete; a group found through LogGroupPrefix that no longer exists
// is forgotten (a Done record). A poll that read every group sets
// Stats.LastRead; one that did not sets Stats.Problem.
//
// Each Record carries the group's cursor after its event; a Progress record
// carries the cursor after a page or a poll that moved it without sending an
// event (events skipped, rejected, or the poll's end).
//
// Memory: the ids of the last 100,000 events per group are remembered for
// de-duplication, and the cursor carries the ids inside the overlap window,
// at most as many. A group that receives more events than that within
// Overlap may send some events twice after a restart or a late re-read.
//
// Stats.Lag is the time between the newest CloudWatch timestamp of the
// accepted events of the last page with any and the moment that page was
// read: how far behind the source is, late visibility included. A rejected
// event does not move it.
//
// Run returns nil when ctx is done (or, in Once mode, after one poll of
// every group up to the time it started) and an error for an invalid
// configuration or a parser that cannot be made. Set the fields before Run;
// Run may be called once.
type CloudWatch struct {
	Name   string // the @source of its events and Source of its records
	Client logsAPI
	// LogGroups are log group names or ARNs; exactly one of LogGroups and
	// LogGroupPrefix is set. With LogGroupPrefix the groups are listed with
	// DescribeLogGroups at the start and every minute after.
	LogGroups      []string
	LogGroupPrefix string
	StreamPrefix   string // logStreamNamePrefix; "" reads every stream
	FilterPattern  string // CloudWatch filter pattern; "" reads every event
	NewParser      func() (format.Parser, error)
	// Overlap is how far before its cursor each poll of a group starts
	// again; 0 means 2 minutes.
	Overlap time.Duration
	// PollInterval is the time between the end of a poll and the start
	// of the next; 0 means 5 seconds.
	PollInterval time.Duration
	// MaxRequestsPerSecond limits the source's requests; 0 means 4, below
	// the FilterLogEvents quota of 5 per second per account and region
	// (shared with every other reader of the account).
	MaxRequestsPerSecond float64
	// Cursors are where to resume, from the last checkpoint.
	Cursors []CloudWatchCursor
	// Once makes Run return nil after one poll of every group.
	Once  bool
	Stats *SourceStats // may be nil
	// Bad receives rejected events with their position and the reason.
	// It may be nil. It is called from Run's goroutine.
	Bad func(pos Position, reason string)
	// Fail receives request errors, with the group as Where; nil: they
	// go to Bad with the group as position. It is called from Run's
	// goroutine.
	Fail func(*ReadError)
	// Now is the clock for the end of each poll and for Stats.Lag; nil
	// means time.Now.
	Now func() time.Time
	// MaxLineBytes is the longest message accepted; 0 means
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxFuture is the far-future limit (Decoding.MaxFuture); 0 means
	// none.
	MaxFuture time.Duration
}

var _ Source = (*CloudWatch)(nil)

// CloudWatchCursor is where CloudWatch resumes a log group.
type CloudWatchCursor struct {
	Key   string `json:"key"`  // "cw:" + Group
	Group string `json:"path"` // the log group name or ARN
	// Millis is the greatest event timestamp, in epoch milliseconds, of
	// the events processed (or the poll's end minus the overlap).
	Millis int64 `json:"offset"`
	// IDs are the ids of the processed events whose timestamps are inside
	// the overlap window before Millis, so that the re-read of that window
	// after a restart emits none of them again.
	IDs []string `json:"ids,omitempty"`
}

// CursorKey returns c.Key.
func (c CloudWatchCursor) CursorKey() string { return c.Key }

const (
	cwDefaultOverlap  = 2 * time.Minute
	cwDefaultInterval = 5 * time.Second
	cwDefaultRate     = 4
	cwKeyPrefix       = "cw:"
	// cwPageLimit is the most events one FilterLogEvents page holds; it is
	// AWS's default, set because emulators default to less.
	cwPageLimit = 10000
	// cwMaxIDs bounds the event ids remembered per group.
	cwMaxIDs        = 100_000
	cwBackoffMin    = time.Second
	cwBackoffMax    = time.Minute
	cwGroupsRefresh = time.Minute
	// cwRequestTimeout bounds one FilterLogEvents request.
	cwRequestTimeout = time.Minute
)

// errRequestTimeout marks a request cut by cwRequestTimeout: retried,
// although the SDK classifies a cancelled request as final.
var errRequestTimeout = fmt.Errorf("no answer within %s", cwRequestTimeout)

// Run polls the log groups until ctx is done; see CloudWatch.
func (c *CloudWatch) Run(ctx context.Context, out chan<- Record) error {
	r, err := newCWReader(c)
	if err != nil {
		return err
	}
	interval := c.PollInterval
	if interval <= 0 {
		interval = cwDefaultInterval
	}
	for {
		if err := r.poll(ctx, out); err != nil {
			if errors.Is(err, errStopped) {
				return nil
			}
			return err
		}
		if c.Once {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// cwReader is the state of one CloudWatch's Run.
type cwReader struct {
	c         *CloudWatch
	stats     *SourceStats
	bad       func(Position, string)
	now       func() time.Time
	overlapMs int64
	limit     limiter
	startMs   int64 // where groups without a cursor begin

	groups   map[string]*cwGroup
	order    []string // polling order
	listedAt time.Time
	cursors  map[string]CloudWatchCursor // by group, not yet used
	reported map[string]string           // group → last request error reported
	failed   *ReadError                  // the last failed request of this poll

	decoding Decoding // of each group
	buf      []byte   // the message being parsed
}

// cwGroup is the state of one log group.
type cwGroup struct {
	name   string
	dec    *decoder
	offset int64 // the cursor's Millis
	// The ids of the processed events in the overlap window, in the order
	// processed, with their timestamps. Records share ids' backing array:
	// elements are never changed once appended, and each cursor's slice
	// has its capacity cut to its length.
	ids   []string
	ts    []int64
	seen  *lru.Cache[string, struct{}]
	dirty bool // the cursor moved since the last record sent
	// fresh: the group has no cursor in the checkpoint yet; a failed
	// poll saves its start, so that a group denied or missing for longer
	// than Overlap loses none of its events once it can be read.
	fresh  bool
	listed bool // found by the last DescribeLogGroups (LogGroupPrefix)
}

func newCWReader(c *CloudWatch) (*cwReader, error) {
	switch {
	case c.Client == nil:
		return nil, errors.New("no client")
	case len(c.LogGroups) == 0 && c.LogGroupPrefix == "":
		return nil, errors.New("log_groups: required (or log_group_prefix)")
	case len(c.LogGroups) > 0 && c.LogGroupPrefix != "":
		return nil, errors.New("log_groups: only one of log_groups and log_group_prefix may be set")
	case c.NewParser == nil:
		return nil, errors.New("no parser")
	}
	r := &cwReader{
		c: c, stats: c.Stats, bad: c.Bad, now: c.Now,
		groups: make(map[string]*cwGroup), cursors: make(map[string]CloudWatchCursor),
		reported: make(map[string]string),
	}
	if r.stats == nil {
		r.stats = new(SourceStats)
	}
	if r.bad == nil {
		r.bad = func(Position, string) {}
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.decoding = Decoding{Source: c.Name, NewParser: c.NewParser, MaxLineBytes: c.MaxLineBytes,
		MaxFuture: c.MaxFuture, Stats: r.stats, Bad: r.bad, Now: r.now}
	overlap := c.Overlap
	if overlap <= 0 {
		overlap = cwDefaultOverlap
	}
	r.overlapMs = overlap.Milliseconds()
	rate := c.MaxRequestsPerSecond
	if rate <= 0 {
		rate = cwDefaultRate
	}
	r.limit.every = time.Duration(float64(time.Second) / rate)
	r.startMs = r.now().UnixMilli()
	for _, cur := range c.Cursors {
		if g, ok := strings.CutPrefix(cur.Key, cwKeyPrefix); ok {
			r.cursors[g] = cur
		}
	}
	for _, name := range c.LogGroups {
		if _, err := r.add(name); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// add starts reading a group, from its cursor if there is one.
func (r *cwReader) add(name string) (*cwGroup, error) {
	if g := r.groups[name]; g != nil {
		return g, nil
	}
	dec, err := r.decoding.newDecoder()
	if err != nil {
		return nil, fmt.Errorf("parser: %w", err)
	}
	seen, _ := lru.New[string, struct{}](cwMaxIDs) // fails only for a size <= 0
	g := &cwGroup{name: name, dec: dec, offset: r.startMs, seen: seen, fresh: true}
	if cur, ok := r.cursors[name]; ok {
		g.fresh = false
		delete(r.cursors, name)
		g.offset = cur.Millis
		// The ids' timestamps are not in the cursor; none is after its
		// Millis, so they are kept until the window has moved past it.
		for _, id := range cur.IDs {
			g.remember(id, cur.Millis)
		}
	}
	r.groups[name] = g
	r.order = append(r.order, name)
	return g, nil
}

// poll does one round over the groups.
func (r *cwReader) poll(ctx context.Context, out chan<- Record) error {
	r.failed = nil
	if err := r.forgetUnused(ctx, out); err != nil {
		return err
	}
	if r.c.LogGroupPrefix != "" && (r.listedAt.IsZero() || time.Since(r.listedAt) >= cwGroupsRefresh) {
		if err := r.list(ctx); err != nil {
			return err
		}
	}
	for _, name := range slices.Clone(r.order) {
		if err := r.pollGroup(ctx, out, r.groups[name]); err != nil {
			return err
		}
	}
	r.stats.Problem.Store(r.failed)
	if r.failed == nil {
		r.stats.markRead(r.now())
	}
	return nil
}

// forgetUnused sends Done records for the cursors of groups the source no
// longer reads (configuration changed), on the first poll.
func (r *cwReader) forgetUnused(ctx context.Context, out chan<- Record) error {
	for name, cur := range r.cursors {
		if r.c.LogGroupPrefix != "" && strings.HasPrefix(name, r.c.LogGroupPrefix) {
			// Perhaps not listed yet: read it like a listed group; it is
			// forgotten if it no longer exists.
			if _, err := r.add(name); err != nil {
				return err
			}
			continue
		}
		delete(r.cursors, name)
		if !send(ctx, out, Record{Source: r.c.Name, Cursor: cur, Progress: true, Done: true}) {
			return errStopped
		}
	}
	return nil
}

// list adds the groups whose names start with LogGroupPrefix.
func (r *cwReader) list(ctx context.Context) error {
	in := &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(r.c.LogGroupPrefix)}
	var names []string
	for {
		var resp *cloudwatchlogs.DescribeLogGroupsOutput
		err := r.request(ctx, r.c.LogGroupPrefix+"*", func() (err error) {
			resp, err = r.c.Client.DescribeLogGroups(ctx, in, noSDKRetries)
			return err
		})
		if errors.Is(err, errStopped) {
			return err
		}
		if err != nil {
			return nil // reported; listed again on the next poll
		}
		for _, lg := range resp.LogGroups {
			if n := aws.ToString(lg.LogGroupName); n != "" {
				names = append(names, n)
			}
		}
		if aws.ToString(resp.NextToken) == "" {
			break
		}
		in.NextToken = resp.NextToken
	}
	r.listedAt = time.Now()
	slices.Sort(names)
	for _, n := range names {
		if _, err := r.add(n); err != nil {
			return err
		}
	}
	return nil
}

// pollGroup reads one group from its cursor to now.
func (r *cwReader) pollGroup(ctx context.Context, out chan<- Record, g *cwGroup) error {
	end := r.now().UnixMilli()
	start := max(0, g.offset-r.overlapMs)
	in := &cloudwatchlogs.FilterLogEventsInput{
		StartTime: aws.Int64(start),
		EndTime:   aws.Int64(end),
		Limit:     aws.Int32(cwPageLimit),
	}
	if strings.HasPrefix(g.name, "arn:") {
		in.LogGroupIdentifier = aws.String(g.name)
	} else {
		in.LogGroupName = aws.String(g.name)
	}
	if r.c.StreamPrefix != "" {
		in.LogStreamNamePrefix = aws.String(r.c.StreamPrefix)
	}
	if r.c.FilterPattern != "" {
		in.FilterPattern = aws.String(r.c.FilterPattern)
	}
	for {
		var resp *cloudwatchlogs.FilterLogEventsOutput
		err := r.request(ctx, g.name, func() (err error) {
			// A black-holed connection must not stall the source: cut the
			// request and retry it like any transient error.
			rctx, cancel := context.WithTimeout(ctx, cwRequestTimeout)
			defer cancel()
			resp, err = r.c.Client.FilterLogEvents(rctx, in, noSDKRetries)
			if err != nil && ctx.Err() == nil && rctx.Err() != nil {
				err = fmt.Errorf("%w: %w", errRequestTimeout, err)
			}
			return err
		})
		if err != nil {
			if errors.Is(err, errStopped) {
				return err
			}
			var nf *types.ResourceNotFoundException
			if r.c.LogGroupPrefix != "" && errors.As(err, &nf) {
				return r.forget(ctx, out, g)
			}
			// Reported; tried again on the next poll.
			g.dirty = g.dirty || g.fresh
			return r.progress(ctx, out, g)
		}
		if err := r.page(ctx, out, g, resp.Events); err != nil {
			return err
		}
		if aws.ToString(resp.NextToken) == "" {
			break
		}
		in.NextToken = resp.NextToken
	}
	if o := end - r.overlapMs; o > g.offset {
		g.offset, g.dirty = o, true
	}
	g.trim(g.offset - r.overlapMs)
	return r.progress(ctx, out, g)
}

// page sends the events of one page that were not sent before.
func (r *cwReader) page(ctx context.Context, out chan<- Record, g *cwGroup, events []types.FilteredLogEvent) error {
	var lag lagTracker
	readAt := r.now()
	defer lag.flush(r.stats, readAt)
	for i := range events {
		e := &events[i]
		id, ts := aws.ToString(e.EventId), aws.ToInt64(e.Timestamp)
		if id != "" && g.seen.Contains(id) {
			continue
		}
		g.remember(id, ts)
		g.dirty = true
		ev := r.event(g, e)
		if ev == nil {
			continue
		}
		lag.see(time.UnixMilli(ts))
		if !send(ctx, out, Record{Event: ev.Clone(), Source: r.c.Name, Cursor: g.cursor()}) {
			return errStopped
		}
		g.dirty = false
	}
	g.trim(g.offset - r.overlapMs)
	return r.progress(ctx, out, g)
}

// event makes the event of e; nil if it is rejected (counted and
// reported) or blank. The event is g's decoder's scratch.
func (r *cwReader) event(g *cwGroup, e *types.FilteredLogEvent) *event.Event {
	stream, id := aws.ToString(e.LogStreamName), aws.ToString(e.EventId)
	pos := Position{File: g.name + "/" + stream + ":" + id}
	r.buf = append(r.buf[:0], aws.ToString(e.Message)...)
	if err := checkLine(r.buf, g.dec.maxLine); err != nil {
		g.dec.reject(&LineError{Pos: pos, Err: err}, pos)
		return nil
	}
	ev := g.dec.decode(r.buf, pos, time.UnixMilli(aws.ToInt64(e.Timestamp)).UTC())
	if ev == nil {
		return nil
	}
	ev.Set("@log_group", g.name)
	ev.Set("@log_stream", stream)
	ev.Set("@event_id", id)
	return ev
}

// progress sends a Progress record if g's cursor moved since the last
// record.
func (r *cwReader) progress(ctx context.Context, out chan<- Record, g *cwGroup) error {
	if !g.dirty {
		return nil
	}
	if !send(ctx, out, Record{Source: r.c.Name, Cursor: g.cursor(), Progress: true}) {
		return errStopped
	}
	g.dirty, g.fresh = false, false
	return nil
}

// forget stops reading a group that no longer exists.
func (r *cwReader) forget(ctx context.Context, out chan<- Record, g *cwGroup) error {
	delete(r.groups, g.name)
	r.order = slices.DeleteFunc(r.order, func(n string) bool { return n == g.name })
	delete(r.reported, g.name)
	if !send(ctx, out, Record{Source: r.c.Name, Cursor: g.cursor(), Progress: true, Done: true}) {
		return errStopped
	}
	return nil
}

// request calls do through the limiter, retrying transient errors with
// backoff until it succeeds or ctx is done (errStopped). Other errors are
// reported to Bad at pos and returned.
func (r *cwReader) request(ctx context.Context, pos string, do func() error) error {
	backoff := cwBackoffMin
	for {
		if err := r.limit.wait(ctx); err != nil {
			return err
		}
		err := do()
		if err == nil {
			delete(r.reported, pos)
			return nil
		}
		if ctx.Err() != nil {
			return errStopped
		}
		kind := Classify(err)
		r.stats.countError(kind)
		if kind == ErrThrottled {
			r.stats.Throttled.Add(1)
		} else {
			r.report(pos, kind, err)
		}
		if kind == ErrPermanent {
			r.failed = &ReadError{Source: r.c.Name, Where: pos, Kind: kind, Err: err}
			return err
		}
		// Full jitter over the upper half keeps retries of several
		// secwatch instances apart without ever retrying at once.
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errStopped
		case <-t.C:
		}
		backoff = min(2*backoff, cwBackoffMax)
	}
}

// report passes a request error to Fail, once until it changes.
func (r *cwReader) report(pos string, kind ErrorKind, err error) {
	msg := err.Error()
	if r.reported[pos] == msg {
		return
	}
	r.reported[pos] = msg
	if r.c.Fail == nil {
		r.bad(Position{File: pos}, msg)
		return
	}
	r.c.Fail(&ReadError{Source: r.c.Name, Where: pos, Kind: kind, Err: err})
}

// noSDKRetries turns the SDK's retries off for one request: the source
// retries itself, counting throttles and never giving up.
func noSDKRetries(o *cloudwatchlogs.Options) { o.Retryer = aws.NopRetryer{} }

// remember records a processed event.
func (g *cwGroup) remember(id string, ts int64) {
	g.offset = max(g.offset, ts)
	if id == "" {
		return
	}
	g.seen.Add(id, struct{}{})
	if len(g.ids) == cwMaxIDs {
		g.ids, g.ts = g.ids[1:], g.ts[1:]
	}
	g.ids = append(g.ids, id)
	g.ts = append(g.ts, ts)
}

// trim drops the ids of events before cutoff, the start of the next poll:
// they cannot be read again. Events are processed nearly in timestamp
// order, so the old ones are at the front; a late one further back stays a
// little longer, which is harmless.
func (g *cwGroup) trim(cutoff int64) {
	n := 0
	for n < len(g.ts) && g.ts[n] < cutoff {
		n++
	}
	g.ids, g.ts = g.ids[n:], g.ts[n:]
}

func (g *cwGroup) cursor() CloudWatchCursor {
	c := CloudWatchCursor{Key: cwKeyPrefix + g.name, Group: g.name, Millis: g.offset}
	if len(g.ids) > 0 {
		c.IDs = g.ids[:len(g.ids):len(g.ids)]
	}
	return c
}

// limiter spaces requests at least every apart.
type limiter struct {
	every time.Duration
	next  time.Time
}

func (l *limiter) wait(ctx context.Context) error {
	now := time.Now()
	if d := l.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errStopped
		case <-t.C:
		}
		now = l.next
	}
	if ctx.Err() != nil {
		return errStopped
	}
	l.next = now.Add(l.every)
	return nil
}
