package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/testutil"
)

const (
	albPrefix  = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/"
	albNodes   = 5
	burstLines = 11 // 401s from one client in one object: one alert of count 11
	albRule    = `rules:
  - id: alb-auth-failure-burst
    title: Repeated 401 responses to one client
    severity: high
    match: {elb_status_code: 401}
    group_by: [client_ip]
    window: 5m
    threshold: 10
`
)

// albObject is one ALB access log object as the load balancer writes it.
type albObject struct {
	key   string
	plain []byte
	gz    []byte
}

// albObjects makes n objects of lines lines each, from albNodes nodes,
// spanning the hour before now. Every third object holds a burst of
// burstLines 401 responses to a client of its own.
func albObjects(t testing.TB, now time.Time, n, lines int) []albObject {
	t.Helper()
	base := now.Add(-55 * time.Minute).Truncate(time.Second)
	day := now.UTC().Format("2006/01/02/")
	objs := make([]albObject, n)
	for j := range objs {
		node := j % albNodes
		start := base.Add(time.Duration(j/albNodes) * 30 * time.Second)
		var b bytes.Buffer
		for k := range lines {
			ts := start.Add(time.Duration(k) * 30 * time.Second / time.Duration(lines)).UTC().Format("2006-01-02T15:04:05.000000Z")
			client, status := fmt.Sprintf("203.0.113.%d", k%250), 200
			if j%3 == 0 && k < burstLines {
				client, status = fmt.Sprintf("198.18.%d.%d", j/256, j%256), 401
			}
			fmt.Fprintf(&b, `https %s app/mcp-tagging-prod/4f1c2a9be07d3e55 %s:22246 10.0.11.23:8080 0.001 0.004 0.000 %d %d 488 345 "POST https://mcp-tagging.example.com:443/mcp HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mcp-tagging-prod-tg/6d0ecf831eec9f09 "Root=1-a6a3a450-%024d" "mcp-tagging.example.com" "-" 0 %s "forward" "-" "-" "10.0.11.23:8080" "%d" "-" "-" TID_%d_%d`+"\n",
				ts, client, status, status, j*lines+k, ts, status, j, k)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(b.Bytes())
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		end := start.Add(30 * time.Second).UTC().Format("20060102T1504Z")
		objs[j] = albObject{
			key:   fmt.Sprintf("%s%s123456789012_elasticloadbalancing_us-east-1_app.mcp-tagging-prod.4f1c2a9be07d3e55_%s_10.0.%d.%d_%06d.log.gz", albPrefix, day, end, node, node+10, j),
			plain: b.Bytes(), gz: gz.Bytes(),
		}
	}
	return objs
}

// s3Fixture is a bucket whose notifications go to a queue, in the emulator.
type s3Fixture struct {
	endpoint         string
	s3               *s3.Client
	sqs              *sqs.Client
	bucket, queueURL string
	queueARN         string
}

func newS3Fixture(t testing.TB) *s3Fixture {
	t.Helper()
	ctx := t.Context()
	endpoint := startEmulator(t)
	cfg := awsConfig(endpoint)
	f := &s3Fixture{endpoint: endpoint, s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), sqs: sqs.NewFromConfig(cfg)}
	f.bucket = strings.Trim(strings.ToLower(strings.ReplaceAll(uniqueName(t, "alb"), "_", "-")), "-")
	if len(f.bucket) > 63 {
		f.bucket = strings.Trim(f.bucket[len(f.bucket)-63:], "-")
	}
	if _, err := f.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &f.bucket}); err != nil {
		t.Fatal(err)
	}
	q, err := f.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(uniqueName(t, "alb"))})
	if err != nil {
		t.Fatal(err)
	}
	f.queueURL = *q.QueueUrl
	attrs, err := f.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	f.queueARN = attrs.Attributes["QueueArn"]
	return f
}

func (f *s3Fixture) notify(t *testing.T, on bool) {
	t.Helper()
	nc := &s3types.NotificationConfiguration{}
	if on {
		nc.QueueConfigurations = []s3types.QueueConfiguration{{QueueArn: &f.queueARN, Events: []s3types.Event{"s3:ObjectCreated:*"}}}
	}
	if _, err := f.s3.PutBucketNotificationConfiguration(t.Context(), &s3.PutBucketNotificationConfigurationInput{Bucket: &f.bucket, NotificationConfiguration: nc}); err != nil {
		t.Fatal(err)
	}
}

func (f *s3Fixture) put(t testing.TB, objs []albObject) {
	t.Helper()
	for _, o := range objs {
		if _, err := f.s3.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &f.bucket, Key: aws.String(o.key), Body: bytes.NewReader(o.gz)}); err != nil {
			t.Fatal(err)
		}
	}
}

// putWhileRunning writes objs one after the other, pausing 20 ms after
// every fifth, in a goroutine; the channel is closed when all are written.
func (f *s3Fixture) putWhileRunning(t *testing.T, objs []albObject) <-chan struct{} {
	uploaded := make(chan struct{})
	go func() {
		defer close(uploaded)
		for i, o := range objs {
			f.put(t, []albObject{o})
			if i%5 == 4 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	return uploaded
}

// send puts a message on the queue, as a notifier would.
func (f *s3Fixture) send(t *testing.T, body string) {
	t.Helper()
	if _, err := f.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &f.queueURL, MessageBody: &body}); err != nil {
		t.Fatal(err)
	}
}

// etag returns the object's ETag as S3 reports it.
func (f *s3Fixture) etag(t *testing.T, key string) string {
	t.Helper()
	h, err := f.s3.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(aws.ToString(h.ETag), `"`)
}

// The three envelopes a notification can come in.
func s3Notification(bucket, key, etag string) string {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
		"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key, "eTag": etag}},
	}}})
	return string(b)
}

func snsWrapped(inner string) string {
	b, _ := json.Marshal(map[string]any{"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:000000000000:alb", "Message": inner})
	return string(b)
}

func eventBridge(bucket, key, etag string) string {
	b, _ := json.Marshal(map[string]any{"source": "aws.s3", "detail-type": "Object Created",
		"detail": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key, "etag": etag}}})
	return string(b)
}

// replayAlerts is what `secwatch replay` of the objects' lines alerts, by
// alert id.
func replayAlerts(t *testing.T, rulePath string, objs []albObject) map[string]alerting.Document {
	t.Helper()
	rs, err := rulefile.Load(rulePath)
	if err != nil {
		t.Fatal(err)
	}
	engine := rules.NewEngine(rs)
	engine.MaxLateness = time.Hour
	var inputs []ingest.Input
	for _, o := range objs {
		inputs = append(inputs, ingest.Input{Name: "s3://b/" + o.key, R: bytes.NewReader(o.plain)})
	}
	got := map[string]alerting.Document{}
	_, err = ingest.Replay(inputs, ingest.Decoding{Source: "alb", NewParser: func() (format.Parser, error) {
		return format.NewParser("alb", format.Options{})
	}}, func(ev *event.Event) error {
		for _, a := range engine.Observe(ev) {
			d := alerting.NewDocument(&a)
			got[d.AlertID] = d
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// stdoutAlerts parses the stdout notifier's JSON alerts, by alert id,
// counting each id's deliveries.
func stdoutAlerts(t *testing.T, out string) (map[string]alerting.Document, map[string]int) {
	t.Helper()
	docs, n := map[string]alerting.Document{}, map[string]int{}
	for line := range strings.Lines(out) {
		var d alerting.Document
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		docs[d.AlertID] = d
		n[d.AlertID]++
	}
	return docs, n
}

// TestS3ALBExactlyOnce runs the daemon with a type s3 source against the
// emulator's S3 and SQS: gzip ALB objects from several nodes, some written
// before secwatch started and never notified (only the reconciler finds
// them), some notified late (after objects written later), duplicated
// notifications in all three envelopes, a test event and a message that is
// no notification. The daemon is stopped halfway and started again on the
// same state. Every line is counted once, the alerts equal a replay of the
// same lines, and every queue message is deleted in the end.
func TestS3ALBExactlyOnce(t *testing.T) {
	nObj, nLines := 500, 210
	if testing.Short() {
		nObj = 60
	}
	f := newS3Fixture(t)
	ctx := t.Context()
	objs := albObjects(t, time.Now(), nObj, nLines)
	lost, late := objs[:nObj/10], objs[nObj/10:nObj/5]
	rest := objs[nObj/5:]

	f.put(t, lost) // written while secwatch was down, never notified
	f.put(t, late) // notified only at the end
	f.notify(t, true)
	f.send(t, `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"`+f.bucket+`"}`)
	f.send(t, `this is not a notification`)

	dir := t.TempDir()
	rulePath, cfgPath := writeS3Config(t, dir, f)
	cfgText, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("secwatch.yaml", bytes.NewReader(cfgText), nil)
	if err != nil {
		t.Fatal(err)
	}
	stdout := &lockedBuffer{}
	start := func() (stop func(), log *lockedBuffer) {
		log = &lockedBuffer{}
		d := &daemon.Daemon{
			Config: cfg, Log: zerolog.New(log), Stdout: stdout,
			S3Client: func(config.Source) (daemon.S3Clients, error) { return daemon.S3Clients{S3: f.s3, SQS: f.sqs}, nil },
		}
		return runDaemon(t, d, log), log
	}
	metric := func(log *lockedBuffer, name string) int64 {
		return testutil.Metric(log.String(), name+`{source="alb"}`)
	}

	stop, log := start()
	eventually(t, 60*time.Second, "the reconciler to read the unnotified objects", func() bool {
		return metric(log, "secwatch_s3_objects_total") >= int64(len(lost)+len(late))
	})
	half := len(rest) / 2
	for i, o := range rest[:half] {
		f.put(t, []albObject{o})
		if i%7 == 0 {
			f.send(t, snsWrapped(s3Notification(f.bucket, o.key, f.etag(t, o.key))))
		}
	}
	eventuallyOr(t, 60*time.Second, "the first half read", log, func() bool {
		return metric(log, "secwatch_s3_objects_total") >= int64(len(lost)+len(late)+half)
	})
	first := metric(log, "secwatch_s3_objects_total")
	rejected, finds := metric(log, "secwatch_s3_rejected_messages_total"), metric(log, "secwatch_s3_reconciler_finds_total")
	lines := metric(log, "secwatch_source_lines_total")
	stop()

	stop, log = start()
	for i, o := range rest[half:] {
		f.put(t, []albObject{o})
		if i%11 == 0 {
			f.send(t, eventBridge(f.bucket, o.key, f.etag(t, o.key)))
		}
	}
	for _, o := range late { // delayed past objects written later
		f.send(t, s3Notification(f.bucket, o.key, f.etag(t, o.key)))
	}
	eventuallyOr(t, 120*time.Second, "every object read", log, func() bool {
		return first+metric(log, "secwatch_s3_objects_total") >= int64(nObj)
	})
	eventuallyOr(t, 60*time.Second, "every message deleted", log, func() bool {
		a, err := f.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &f.queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	second := metric(log, "secwatch_s3_objects_total")
	rejected += metric(log, "secwatch_s3_rejected_messages_total")
	lines += metric(log, "secwatch_source_lines_total")
	stop()

	if first+second != int64(nObj) {
		t.Errorf("objects read: %d + %d, want %d (each once)", first, second, nObj)
	}
	if rejected != 1 {
		t.Errorf("rejected messages: got %d, want 1", rejected)
	}
	if lines != int64(nObj*nLines) {
		t.Errorf("lines read: got %d, want %d (each once)", lines, nObj*nLines)
	}
	if finds < int64(len(lost)) {
		t.Errorf("reconciler finds in the first run: got %d, want at least the %d objects never notified", finds, len(lost))
	}

	want := replayAlerts(t, rulePath, objs)
	if len(want) != (nObj+2)/3 {
		t.Fatalf("replay: %d alerts, want %d", len(want), (nObj+2)/3)
	}
	got, deliveries := stdoutAlerts(t, stdout.String())
	for id, n := range deliveries {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("alerts: got %d, replay %d; ids differ", len(got), len(want))
	}
	t.Logf("%d objects, %d lines, %d alerts equal to replay's; reconciler finds (first run) %d", nObj, lines, len(want), finds)
	for id, d := range got {
		if d.Count != burstLines || d.FirstSeen != want[id].FirstSeen || d.Time != want[id].Time {
			t.Errorf("alert %s: count %d first_seen %s time %s, replay: count %d %s %s", id, d.Count, d.FirstSeen, d.Time,
				want[id].Count, want[id].FirstSeen, want[id].Time)
		}
	}
}

// eventually, reporting the daemon's S3 metrics and log when cond never
// holds.
func eventuallyOr(t *testing.T, deadline time.Duration, what string, log *lockedBuffer, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	var s3m []string
	for l := range strings.Lines(testutil.Metrics(log.String())) {
		if strings.Contains(l, "s3_") || strings.Contains(l, "source_lines") {
			s3m = append(s3m, l)
		}
	}
	tail := log.String()
	if len(tail) > 4000 {
		tail = tail[len(tail)-4000:]
	}
	t.Fatalf("after %s: %s\n%s\n%s", deadline, what, strings.Join(s3m, ""), tail)
}

// writeS3Config writes the ALB rule and a configuration with one s3 source
// on f into dir, and returns their paths.
func writeS3Config(t *testing.T, dir string, f *s3Fixture) (rulePath, cfgPath string) {
	return writeS3ConfigWith(t, dir, "state_dir: "+filepath.Join(dir, "state"), f.queueURL, f)
}

// writeS3ConfigWith is writeS3Config with the given state settings (a YAML
// line) and queue.
func writeS3ConfigWith(t *testing.T, dir, state, queueURL string, f *s3Fixture) (rulePath, cfgPath string) {
	t.Helper()
	rulePath = filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(albRule), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "secwatch.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, `%s
rules: [%s]
engine: {tick: 100ms, max_lateness: 1h}
checkpoint_interval: 1s
sources:
  - name: alb
    type: s3
    format: alb
    queue_url: %s
    bucket: %s
    prefix: %s
    endpoint: %s
    region: us-east-1
alerts:
  stdout: {enabled: true, format: json}
http: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, state, rulePath, queueURL, f.bucket, albPrefix, f.endpoint), 0o644); err != nil {
		t.Fatal(err)
	}
	return rulePath, cfgPath
}
