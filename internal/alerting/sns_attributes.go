package alerting

import (
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// snsMaxAttributes is SNS's limit on message attributes per message.
const snsMaxAttributes = 10

// snsAttrName is the charset SNS accepts for an attribute name (at most
// 256 characters; not starting or ending with a period, no "..", no
// "AWS." or "Amazon." prefix: checked in validAttrName).
var snsAttrName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)

func validAttrName(n string) bool {
	lower := strings.ToLower(n)
	return snsAttrName.MatchString(n) && !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, ".") &&
		!strings.Contains(n, "..") && !strings.HasPrefix(lower, "aws.") && !strings.HasPrefix(lower, "amazon.")
}

// labelAttributes adds labels to attrs as String attributes, in name
// order, until attrs holds snsMaxAttributes; names SNS refuses, names
// already in attrs and empty values are skipped. It returns the bytes
// added.
func labelAttributes(attrs map[string]types.MessageAttributeValue, labels map[string]string) int {
	n := 0
	for _, k := range SortedKeys(labels) {
		v := labels[k]
		if len(attrs) >= snsMaxAttributes {
			break
		}
		if _, dup := attrs[k]; dup || v == "" || !validAttrName(k) {
			continue
		}
		attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		n += len(k) + len("String") + len(v)
	}
	return n
}

// Limits of a Chatbot custom notification's content.
const (
	chatbotMaxTitle       = 250
	chatbotMaxDescription = 8000
)

// ChatbotMessage renders doc as an AWS Chatbot (Amazon Q Developer in chat
// applications) custom notification: version "1.0", source "custom",
// client-markdown content with the Slack text of the alert (escaped as for
// Slack), the runbook as a next step, and the rule as the thread id, so
// that a rule's alerts thread together.
func ChatbotMessage(doc *Document) (string, error) {
	type content struct {
		TextType    string   `json:"textType"`
		Title       string   `json:"title"`
		Description string   `json:"description"`
		NextSteps   []string `json:"nextSteps,omitempty"`
	}
	type metadata struct {
		ThreadID          string            `json:"threadId"`
		Summary           string            `json:"summary"`
		AdditionalContext map[string]string `json:"additionalContext"`
	}
	msg := struct {
		Version  string   `json:"version"`
		Source   string   `json:"source"`
		ID       string   `json:"id"`
		Content  content  `json:"content"`
		Metadata metadata `json:"metadata"`
	}{
		Version: "1.0", Source: "custom", ID: doc.AlertID,
		Content: content{
			TextType:    "client-markdown",
			Title:       cutText(slackEscaper.Replace(summary(doc)), chatbotMaxTitle),
			Description: cutText(SlackText(doc), chatbotMaxDescription),
		},
		Metadata: metadata{
			ThreadID:          doc.Rule,
			Summary:           cutText(slackEscaper.Replace(summary(doc)), chatbotMaxTitle),
			AdditionalContext: map[string]string{"alert_id": doc.AlertID, "rule": doc.Rule, "severity": doc.Severity},
		},
	}
	if doc.Runbook != "" {
		msg.Content.NextSteps = []string{"Runbook: " + slackLink(doc.Runbook)}
	}
	b, err := marshalNoEscape(msg)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
