package ingest

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
)

func TestParseNotification(t *testing.T) {
	direct := `{"Records":[` +
		`{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"a/b+c%3D.log.gz","eTag":"e1"}}},` +
		`{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"logs"},"object":{"key":"gone"}}},` +
		`{"eventSource":"aws:s3","eventName":"s3:ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"logs"},"object":{"key":"d","eTag":"\"e2\"","versionId":"v2"}}}]}`
	both := []s3Object{{Bucket: "logs", Key: "a/b c=.log.gz", ETag: "e1"}, {Bucket: "logs", Key: "d", ETag: "e2", VersionID: "v2"}}
	for _, tc := range []struct {
		name, body string
		want       []s3Object
		bad        bool
	}{
		{"direct, every record", direct, both, false},
		{"sns-wrapped", `{"Type":"Notification","Message":` + strconv.Quote(direct) + `}`, both, false},
		{"eventbridge", `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"logs"},"object":{"key":"x y","etag":"e3"}}}`,
			[]s3Object{{Bucket: "logs", Key: "x y", ETag: "e3"}}, false},
		{"eventbridge deletion", `{"source":"aws.s3","detail-type":"Object Deleted","detail":{}}`, nil, false},
		{"test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"logs"}`, nil, false},
		{"sns-wrapped test event", `{"Type":"Notification","Message":"{\"Event\":\"s3:TestEvent\"}"}`, nil, false},
		{"not json", `hello`, nil, true},
		{"other json", `{"hello":"world"}`, nil, true},
		{"other source", `{"Records":[{"eventSource":"aws:sqs"}]}`, nil, true},
		{"no key", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{}}}]}`, nil, true},
		{"bad escape", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"%zz"}}}]}`, nil, true},
		{"sns in sns", `{"Type":"Notification","Message":` + strconv.Quote(`{"Type":"Notification","Message":"{}"}`) + `}`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNotification([]byte(tc.body))
			if tc.bad {
				if !errors.Is(err, errNotNotification) {
					t.Fatalf("got %v, %v; want an errNotNotification", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestLedgerKey(t *testing.T) {
	a := s3Object{Bucket: "b", Key: "k", ETag: "e"}
	if got, want := a.ledgerKey(), "b/k@e"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	a.VersionID = "v"
	if got, want := a.ledgerKey(), "b/k@v"; got != want {
		t.Errorf("versioned: got %q, want %q", got, want)
	}
}
