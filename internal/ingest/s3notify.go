package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// s3Object is an object announced by a notification or found by listing.
type s3Object struct {
	Bucket, Key string
	ETag        string // without quotes
	VersionID   string
}

// ledgerKey is what the ledger knows an object by: bucket, key and the
// version id, or the ETag when the bucket is not versioned. A re-notified
// or re-listed object has the same ledger key; an object written again
// under the same key has a new one.
func (o s3Object) ledgerKey() string {
	v := o.VersionID
	if v == "" {
		v = o.ETag
	}
	return o.Bucket + "/" + o.Key + "@" + v
}

// url is the object's s3:// address, the @file of its lines.
func (o s3Object) url() string { return "s3://" + o.Bucket + "/" + o.Key }

// errNotNotification is wrapped by parseNotification's errors.
var errNotNotification = errors.New("not an S3 event notification")

// parseNotification returns the created objects that an SQS message body
// announces, in one of three envelopes: an S3 event notification
// ({"Records": [...]}), the same wrapped by SNS ({"Type": "Notification",
// "Message": "..."}), or an EventBridge event ("source": "aws.s3"). Every
// record of a message counts; records of other events (removals) are left
// out, and s3:TestEvent gives no object and no error. Keys of S3
// notifications are URL-decoded (S3 sends them form-encoded); EventBridge
// keys are taken as they are.
func parseNotification(body []byte) ([]s3Object, error) {
	return parseEnvelope(body, 0)
}

type s3Envelope struct {
	// SNS
	Type    string `json:"Type"`
	Message string `json:"Message"`
	// S3 test event
	Event string `json:"Event"`
	// S3 notification
	Records []struct {
		EventSource string `json:"eventSource"`
		EventName   string `json:"eventName"`
		S3          struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				ETag      string `json:"eTag"`
				VersionID string `json:"versionId"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	// EventBridge
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			ETag      string `json:"etag"`
			VersionID string `json:"version-id"`
		} `json:"object"`
	} `json:"detail"`
}

func parseEnvelope(body []byte, depth int) ([]s3Object, error) {
	var e s3Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotNotification, err)
	}
	switch {
	case e.Event == "s3:TestEvent":
		return nil, nil
	case e.Type == "Notification" && e.Message != "":
		if depth > 0 {
			return nil, fmt.Errorf("%w: SNS envelope inside another", errNotNotification)
		}
		return parseEnvelope([]byte(e.Message), depth+1)
	case e.Records != nil:
		var objs []s3Object
		for i, r := range e.Records {
			if r.EventSource != "aws:s3" {
				return nil, fmt.Errorf("%w: record %d: eventSource %q", errNotNotification, i, r.EventSource)
			}
			// S3 writes "ObjectCreated:Put"; some emulators add "s3:".
			if !strings.HasPrefix(strings.TrimPrefix(r.EventName, "s3:"), "ObjectCreated:") {
				continue
			}
			key, err := url.QueryUnescape(r.S3.Object.Key)
			if err != nil || r.S3.Bucket.Name == "" || key == "" {
				return nil, fmt.Errorf("%w: record %d: no bucket or key", errNotNotification, i)
			}
			objs = append(objs, s3Object{Bucket: r.S3.Bucket.Name, Key: key,
				ETag: trimQuotes(r.S3.Object.ETag), VersionID: r.S3.Object.VersionID})
		}
		return objs, nil
	case e.Source == "aws.s3":
		if e.DetailType != "Object Created" {
			return nil, nil
		}
		d := e.Detail
		if d.Bucket.Name == "" || d.Object.Key == "" {
			return nil, fmt.Errorf("%w: EventBridge event without bucket or key", errNotNotification)
		}
		return []s3Object{{Bucket: d.Bucket.Name, Key: d.Object.Key,
			ETag: trimQuotes(d.Object.ETag), VersionID: d.Object.VersionID}}, nil
	}
	return nil, fmt.Errorf("%w: no Records, SNS Message or EventBridge detail", errNotNotification)
}
