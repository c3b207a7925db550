package integration

import (
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/testutil"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// s3Replica is one secwatch process of TestS3ReplicasOnRedis.
type s3Replica struct {
	name     string
	cmd      *exec.Cmd
	out, log *lockedBuffer
	done     chan error
}

func (r *s3Replica) metric(series string) int64 { return testutil.Metric(r.log.String(), series) }

// TestS3ReplicasOnRedis runs two secwatch replicas on the Redis backend,
// each with its own SQS queue subscribed to one SNS topic that receives
// the bucket's S3 notifications (kumo delivers S3 to SNS and SNS to SQS,
// in the SNS envelope), while ALB objects keep arriving. Replica b is
// killed with SIGKILL mid-run and a replacement started at once on its
// queue. The alerts delivered, deduplicated by alert_id, equal a replay of
// the objects, each delivered once and with its burst's exact count; each
// live replica's engine matched every 401 line exactly once.
func TestS3ReplicasOnRedis(t *testing.T) {
	nObj, nLines := 500, 210
	if testing.Short() {
		nObj = 60
	}
	f := newS3Fixture(t)
	ctx := t.Context()
	cfg := awsConfig(f.endpoint)
	snsc := sns.NewFromConfig(cfg)
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(uniqueName(t, "alb"))})
	if err != nil {
		t.Fatal(err)
	}
	queues := map[string]string{} // replica name → queue URL
	for _, name := range []string{"a", "b"} {
		q, err := f.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(uniqueName(t, "alb-"+name))})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := f.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
			t.Fatal(err)
		}
		queues[name] = *q.QueueUrl
	}
	if _, err := f.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: &f.bucket, NotificationConfiguration: &s3types.NotificationConfiguration{
			TopicConfigurations: []s3types.TopicConfiguration{{TopicArn: topic.TopicArn, Events: []s3types.Event{"s3:ObjectCreated:*"}}},
		}}); err != nil {
		t.Fatal(err)
	}

	redis := redisserver.Start(t)
	bin := secwatchBinary(t)
	state := fmt.Sprintf("state: {backend: redis, redis: {addr: %q, key_prefix: \"s3:\", lease: 3s}}\nshutdown_grace: 5s", redis.Addr)
	var rulePath string
	configs := map[string]string{}
	for name, q := range queues {
		dir := t.TempDir()
		rulePath, configs[name] = writeS3ConfigWith(t, dir, state, q, f)
	}
	start := func(name, queue string) *s3Replica {
		r := &s3Replica{name: name, done: make(chan error, 1)}
		r.cmd, r.out, r.log = startSecwatch(t, bin, configs[queue], t.TempDir())
		go func() { r.done <- r.cmd.Wait() }()
		t.Cleanup(func() { r.cmd.Process.Kill() })
		return r
	}
	const ledger = `secwatch_s3_ledger_objects{source="alb"}`
	const objects = `secwatch_s3_objects_total{source="alb"}`

	objs := albObjects(t, time.Now(), nObj, nLines)
	a, b := start("a", "a"), start("b", "b")
	uploaded := f.putWhileRunning(t, objs)
	eventuallyOr(t, 120*time.Second, "b to read a third of the objects", b.log, func() bool {
		return b.metric(objects) >= int64(nObj/3)
	})
	killedAt := b.metric(objects)
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
	// A replacement on b's queue, resuming from the newest checkpoint in
	// Redis while objects keep arriving.
	b2 := start("b2", "b")
	<-uploaded
	for _, r := range []*s3Replica{a, b2} {
		eventuallyOr(t, 180*time.Second, r.name+": every object in the ledger, outbox empty", r.log, func() bool {
			return r.metric(ledger) >= int64(nObj) && r.metric("secwatch_outbox_depth") == 0
		})
	}
	// Every message is deleted, but those b had received when it was
	// killed: they stay invisible for the 5-minute visibility timeout, and
	// are deleted without a read when they come back (their objects are in
	// the ledger; the reconciler found them for b2 at its start).
	inFlight := ""
	for name, q := range queues {
		eventually(t, 60*time.Second, "queue "+name+" empty", func() bool {
			at, err := f.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q,
				AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
			if name == "b" && err == nil {
				inFlight = at.Attributes["ApproximateNumberOfMessagesNotVisible"]
			}
			return err == nil && at.Attributes["ApproximateNumberOfMessages"] == "0" &&
				(name == "b" || at.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0")
		})
	}
	// Each engine matched each 401 line once: the counter is restored with
	// the windows, so a replacement resuming from a's checkpoint counts on
	// from there.
	const matched = `secwatch_rule_matched_total{rule="alb-auth-failure-burst"}`
	wantMatched := int64((nObj + 2) / 3 * burstLines)
	for _, r := range []*s3Replica{a, b2} {
		if got := r.metric(matched); got != wantMatched {
			t.Errorf("%s matched %d 401 lines, want %d (each once)", r.name, got, wantMatched)
		}
	}
	adopted := a.metric("secwatch_outbox_adopted_total") + b2.metric("secwatch_outbox_adopted_total")
	dups := a.metric("secwatch_alerts_duplicate_total") + b2.metric("secwatch_alerts_duplicate_total")
	for _, r := range []*s3Replica{a, b2} {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-r.done; err != nil {
			t.Fatalf("%s: %v\n%s", r.name, err, r.log)
		}
	}

	want := replayAlerts(t, rulePath, objs)
	got := map[string]alerting.Document{}
	deliveries := map[string][]string{} // alert id → replicas that delivered it
	killedOut := completeLines(b.out.String())
	killedLast := killedOut[strings.LastIndexByte(strings.TrimSuffix(killedOut, "\n"), '\n')+1:]
	for _, r := range []*s3Replica{a, b, b2} {
		docs, n := stdoutAlerts(t, completeLines(r.out.String()))
		for id, d := range docs {
			got[id] = d
			for range n[id] {
				deliveries[id] = append(deliveries[id], r.name)
			}
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("alerts: got %d distinct, replay %d; ids differ", len(got), len(want))
	}
	for id, d := range got {
		if d.Count != burstLines || d.FirstSeen != want[id].FirstSeen || d.Time != want[id].Time {
			t.Errorf("alert %s: count %d first_seen %s time %s, replay: count %d %s %s", id, d.Count, d.FirstSeen, d.Time,
				want[id].Count, want[id].FirstSeen, want[id].Time)
		}
	}
	// Each alert once. The one exception delivery allows: b printed an
	// alert and was killed before Redis heard of the ack, so a adopted it
	// and delivered it again. Only b's last line can be that alert.
	again := 0
	for id, rs := range deliveries {
		if len(rs) == 1 {
			continue
		}
		if len(rs) == 2 && slices.Contains(rs, "b") && strings.Contains(killedLast, id) && adopted > 0 {
			again++
			continue
		}
		t.Errorf("alert %s delivered %d times, by %v", id, len(rs), rs)
	}
	t.Logf("%d objects, %d lines; b killed after reading about %d objects; %d alerts equal to replay's: a delivered %d, b %d, b2 %d; "+
		"%d claims lost to the other replica, %d adopted, %d delivered again after the kill; %s of b's messages left in flight by the kill",
		nObj, nObj*nLines, killedAt, len(want), deliveredBy(deliveries, "a"), deliveredBy(deliveries, "b"), deliveredBy(deliveries, "b2"), dups, adopted, again, inFlight)
}

// deliveredBy returns the deliveries made by replica.
func deliveredBy(deliveries map[string][]string, replica string) int {
	n := 0
	for _, rs := range deliveries {
		for _, r := range rs {
			if r == replica {
				n++
			}
		}
	}
	return n
}
