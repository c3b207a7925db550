package alerting

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Labels become attributes up to SNS's 10, in name order, leaving out
// names SNS refuses and names of secwatch's own attributes.
func TestSNSLabelAttributes(t *testing.T) {
	doc := testDoc(1)
	doc.Labels = map[string]string{"AWS.x": "1", "bad name": "1", ".dot": "1", "a..b": "1", "rule": "x", "empty": ""}
	for i := range 9 {
		doc.Labels[fmt.Sprintf("l%d", i)] = fmt.Sprint(i)
	}
	in, err := (&SNS{TopicARN: "arn:aws:sns:us-east-1:123456789012:a"}).input(&doc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range in.MessageAttributes {
		names = append(names, k)
	}
	if len(names) != 10 {
		t.Fatalf("%d attributes %v, want 10", len(names), names)
	}
	for _, k := range []string{"severity", "rule", "alert_id", "l0", "l6"} {
		if _, ok := in.MessageAttributes[k]; !ok {
			t.Errorf("attribute %s missing from %v", k, names)
		}
	}
	if got := aws.ToString(in.MessageAttributes["rule"].StringValue); got != doc.Rule {
		t.Errorf("rule attribute = %q, want the rule id (a label must not replace it)", got)
	}
	for _, k := range []string{"l7", "AWS.x", "bad name", ".dot", "a..b", "empty"} {
		if _, ok := in.MessageAttributes[k]; ok {
			t.Errorf("attribute %q present, want it left out", k)
		}
	}
}

func TestSNSChatbotFormat(t *testing.T) {
	doc := testDoc(1)
	doc.Group["user"] = "<!here> & co"
	doc.Runbook = "https://runbooks.example.com/x"
	in, err := (&SNS{TopicARN: "arn:aws:sns:us-east-1:123456789012:a", Format: "chatbot"}).input(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if in.MessageStructure != nil {
		t.Errorf("MessageStructure = %q, want none (one message for every protocol)", aws.ToString(in.MessageStructure))
	}
	var msg struct {
		Version, Source, ID string
		Content             struct {
			TextType, Title, Description string
			NextSteps                    []string
		}
		Metadata struct{ ThreadID string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Version != "1.0" || msg.Source != "custom" || msg.ID != doc.AlertID || msg.Content.TextType != "client-markdown" || msg.Metadata.ThreadID != doc.Rule {
		t.Errorf("envelope = %+v", msg)
	}
	if !strings.HasPrefix(msg.Content.Title, "[HIGH] Repeated") || !strings.Contains(msg.Content.Description, "&lt;!here&gt; &amp; co") {
		t.Errorf("content = %+v, want the title and the escaped group", msg.Content)
	}
	if len(msg.Content.NextSteps) != 1 || !strings.Contains(msg.Content.NextSteps[0], doc.Runbook) {
		t.Errorf("nextSteps = %v, want the runbook", msg.Content.NextSteps)
	}
}
