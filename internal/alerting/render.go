// Package alerting turns engine alerts into notifications: the alert
// document's renderings (JSON and text), and, with the daemon, the
// dispatcher, outbox and notifiers. It imports rules (for Alert) and never
// imports ingest, alarms or cmd.
package alerting

import (
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
)

// maxShown is how much of one attacker-controlled value a text rendering
// shows.
const maxShown = 200

// WriteJSON writes the alert document as one line of JSON: json.Marshal of
// NewDocument(a), written by appendDocumentJSON into a pooled buffer.
func WriteJSON(w io.Writer, a *rules.Alert) error {
	d := NewDocument(a)
	bp := jsonBufs.Get().(*[]byte)
	b := append(appendDocumentJSON((*bp)[:0], &d), '\n')
	_, err := w.Write(b)
	if cap(b) <= 64<<10 { // a document of huge samples is not kept
		*bp = b
		jsonBufs.Put(bp)
	}
	return err
}

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// GroupText renders the group as "k=v k2=v2", sanitized, in group_by order.
func GroupText(a *rules.Alert) string { return FieldsText(a.Group) }

// FieldsText renders fields as "k=v k2=v2": values are redacted when their
// names are secret, sanitized and cut, since they come from logs.
func FieldsText(fields []event.Field) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f.Key+"="+redact.Sanitize(redact.Value(f.Key, f.Value), maxShown))
	}
	return strings.Join(parts, " ")
}

// SortedKeys returns m's keys in order (for deterministic renderings).
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
