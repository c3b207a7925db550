package deploy

import (
	"slices"
	"strings"
	"testing"
)

// s3Calls are the daemon's S3 and SQS calls (the s3 source's).
func s3Calls(t *testing.T) []Call {
	t.Helper()
	var out []Call
	for _, c := range collect(t).Daemon {
		if c.Service == "s3" || c.Service == "sqs" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatal("no S3 or SQS call found in the daemon's code: the collector is broken")
	}
	return out
}

// TestS3GrantsCoverCode: every S3 and SQS call of the daemon is granted by
// the task policy, and a policy without one of them (the fixture lacks
// sqs:DeleteMessage) fails the comparison, naming the call.
func TestS3GrantsCoverCode(t *testing.T) {
	calls := s3Calls(t)
	d, err := CompareActions(Statements(loadTemplate(t).Resources["TaskApiPolicy"].Properties["PolicyDocument"]), calls)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Missing) != 0 {
		t.Errorf("the task policy lacks S3/SQS calls of the code: %q", d.Missing)
	}

	fixture, err := ParseTemplateFile("testdata/s3grants/missing-delete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err = CompareActions(Statements(fixture.Resources["TaskApiPolicy"].Properties["PolicyDocument"]), calls)
	if err != nil {
		t.Fatal(err)
	}
	if d.OK() || len(d.Missing) != 1 || !strings.HasPrefix(d.Missing[0], "sqs:DeleteMessage (called at internal/ingest/s3.go:") || len(d.Extra) != 0 {
		t.Errorf("fixture without sqs:DeleteMessage: got\n%s\nwant only sqs:DeleteMessage missing, called in internal/ingest/s3.go", d)
	}
}

// TestAlbLogQueueAdmitsOnlyTheBucket: each way into the queue the stack
// creates (bucket notification, SNS topic, EventBridge rule) is limited by
// aws:SourceArn, the bucket's own ways also by aws:SourceAccount; the
// topic admits only the bucket; the S3 gateway endpoint admits the log
// prefix.
func TestAlbLogQueueAdmitsOnlyTheBucket(t *testing.T) {
	tpl := loadTemplate(t)
	for _, c := range []struct {
		resource string
		sids     []string
		account  []string // sids that also need aws:SourceAccount
	}{
		{"AlbLogQueuePolicy", []string{"BucketNotifications", "TopicFanOut", "EventBridgeRule"}, []string{"BucketNotifications", "EventBridgeRule"}},
		{"AlbLogTopicPolicy", []string{"BucketNotifications"}, []string{"BucketNotifications"}},
	} {
		var sids []string
		for _, s := range Statements(resource(t, tpl, c.resource, tpl.Resources[c.resource].Type).Properties["PolicyDocument"]) {
			sids = append(sids, s.Sid)
			cond := render(s.Condition)
			if !strings.Contains(cond, "aws:SourceArn") {
				t.Errorf("%s %s: no aws:SourceArn condition: %s", c.resource, s.Sid, cond)
			}
			if slices.Contains(c.account, s.Sid) && !strings.Contains(cond, "aws:SourceAccount") {
				t.Errorf("%s %s: no aws:SourceAccount condition: %s", c.resource, s.Sid, cond)
			}
			if s.Sid == "BucketNotifications" && !strings.Contains(cond, ":s3:::${AlbLogBucket}") {
				t.Errorf("%s %s: source is not the log bucket: %s", c.resource, s.Sid, cond)
			}
		}
		if !slices.Equal(sids, c.sids) {
			t.Errorf("%s: statements %q, want %q", c.resource, sids, c.sids)
		}
	}
	ep := render(resource(t, tpl, "S3Endpoint", "AWS::EC2::VPCEndpoint").Properties["PolicyDocument"])
	for _, want := range []string{":s3:::${AlbLogBucket}/${AlbLogPrefix}*", "AlbLogListing"} {
		if !strings.Contains(ep, want) {
			t.Errorf("S3Endpoint policy does not admit the log bucket (%q): %s", want, ep)
		}
	}
}
