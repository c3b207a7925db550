package alerting

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
)

const (
	// DigestTopGroups is how many groups a digest lists by name.
	DigestTopGroups = 20
	// maxFloodGroups bounds the groups tracked per rule and hour, so that
	// an attacker spraying addresses cannot grow memory; alerts of further
	// groups are still counted, as "other groups".
	maxFloodGroups = 1000
	floodVersion   = 1
)

// Flood caps the alerts of each rule per clock hour (UTC) of the alerts'
// own times, so live and replay agree: the first Cap of an hour are
// admitted, the rest suppressed and, once the hour has ended, summed up in
// one digest document per rule and hour (docs/delivery.md, "Flood
// control"). An alert older than the rule's current hour, or of an hour
// Flush has closed, counts against the current one.
//
// Cap 0 means no cap. The zero Flood is ready to use. Flood is owned by one
// goroutine (the engine's) and has no locks. Its JSON encoding
// (MarshalJSON, UnmarshalJSON) is its counting state — not Cap or Metrics —
// for the daemon's checkpoint.
type Flood struct {
	Cap     int
	Metrics *Metrics // optional: counts Suppressed and Digests

	rules   map[string]*floodRule
	digests []Document // made at an hour change, returned by Flush
}

// floodRule is one rule's count for its open hour.
type floodRule struct {
	Hour       time.Time      `json:"hour,omitzero"`  // the open hour; zero: none
	Floor      time.Time      `json:"floor,omitzero"` // the earliest hour still open to alerts
	Admitted   int            `json:"admitted,omitempty"`
	Suppressed int            `json:"suppressed,omitempty"`
	Groups     map[string]int `json:"groups,omitempty"` // group text → suppressed alerts
	Other      int            `json:"other,omitempty"`  // suppressed alerts of untracked groups
	First      time.Time      `json:"first,omitzero"`   // alert times of the suppressed ones
	Last       time.Time      `json:"last,omitzero"`

	// From the rule and the last suppressed alert, for the digest.
	Title    string            `json:"title,omitempty"`
	Severity string            `json:"severity,omitempty"`
	Runbook  string            `json:"runbook,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Source   string            `json:"source,omitempty"`
}

// Admit counts a and reports whether it may be sent.
func (f *Flood) Admit(a *rules.Alert) bool {
	if f.Cap <= 0 {
		return true
	}
	if f.rules == nil {
		f.rules = make(map[string]*floodRule)
	}
	id := a.Rule.ID
	st := f.rules[id]
	if st == nil {
		st = &floodRule{}
		f.rules[id] = st
	}
	h := a.Time.UTC().Truncate(time.Hour)
	if h.Before(st.Floor) {
		h = st.Floor
	}
	if !st.Hour.IsZero() && h.After(st.Hour) {
		f.close(id, st)
	}
	if st.Hour.IsZero() {
		st.Hour, st.Floor = h, h
	}
	if st.Admitted < f.Cap {
		st.Admitted++
		return true
	}
	st.suppress(a)
	if f.Metrics != nil {
		f.Metrics.Suppressed.Add(1)
	}
	return false
}

func (st *floodRule) suppress(a *rules.Alert) {
	st.Suppressed++
	g := GroupText(a)
	if _, ok := st.Groups[g]; ok || len(st.Groups) < maxFloodGroups {
		if st.Groups == nil {
			st.Groups = make(map[string]int)
		}
		st.Groups[g]++
	} else {
		st.Other++
	}
	t := a.Time.UTC()
	if st.First.IsZero() || t.Before(st.First) {
		st.First = t
	}
	if t.After(st.Last) {
		st.Last = t
	}
	r := a.Rule
	st.Title, st.Severity, st.Runbook, st.Source = r.Title, r.Severity, r.Runbook, a.Source
	st.Labels = r.Labels
}

// close ends the rule's open hour, making its digest if anything was
// suppressed.
func (f *Flood) close(id string, st *floodRule) {
	if st.Suppressed > 0 {
		f.digests = append(f.digests, st.digest(id, f.Cap))
		if f.Metrics != nil {
			f.Metrics.Digests.Add(1)
		}
	}
	*st = floodRule{Floor: st.Hour.Add(time.Hour)}
}

// Flush returns the digests of rule hours that ended at or before now, and
// those made by Admit when a rule's alerts moved on to a later hour, in
// order. Live, cmd calls it from a ticker with the wall clock; in replay,
// with the greatest event time, and once more at the end of the input with
// a time past its last hour.
func (f *Flood) Flush(now time.Time) []Document {
	for _, id := range slices.Sorted(maps.Keys(f.rules)) {
		st := f.rules[id]
		if !st.Hour.IsZero() && !now.Before(st.Hour.Add(time.Hour)) {
			f.close(id, st)
		}
	}
	out := f.digests
	f.digests = nil
	return out
}

// digestID is the digest's stable alert_id: a hash of rule and hour, the
// same for a replica or a restart that makes the same digest.
func digestID(rule string, hour time.Time) string {
	return rules.HashID("digest", rule, hour.UTC().Format(time.RFC3339))
}

// digest renders the hour's digest through NewDocument, as the alert of a
// rule made for it.
func (st *floodRule) digest(rule string, limit int) Document {
	labels := maps.Clone(st.Labels)
	if labels == nil {
		labels = make(map[string]string, 1)
	}
	labels["digest"] = "true"
	return NewDocument(&rules.Alert{
		ID: digestID(rule, st.Hour),
		Rule: &rules.Rule{
			ID:          rule,
			Title:       fmt.Sprintf("%s suppressed for %s", plural(st.Suppressed, "alert"), rule),
			Severity:    st.Severity,
			Labels:      labels,
			Description: st.description(rule, limit),
			Runbook:     st.Runbook,
			Window:      time.Hour,
			Threshold:   limit,
		},
		Group:     []event.Field{{Key: "digest", Value: st.Hour.UTC().Format(time.RFC3339)}},
		Count:     st.Suppressed,
		Time:      st.Last,
		FirstSeen: st.First,
		Source:    st.Source,
	})
}

// description lists the top groups. Group texts were sanitized and cut by
// GroupText when counted.
func (st *floodRule) description(rule string, limit int) string {
	var b strings.Builder
	title := ""
	if st.Title != "" && st.Title != rule {
		title = fmt.Sprintf(" (%s)", redact.Sanitize(st.Title, maxShown))
	}
	fmt.Fprintf(&b, "Flood control: rule %s%s reached its cap of %s in the hour starting %s; %s between %s and %s were suppressed.",
		rule, title, plural(limit, "alert"), st.Hour.UTC().Format(time.RFC3339), plural(st.Suppressed, "further alert"),
		st.First.Format("15:04:05"), st.Last.Format("15:04:05"))
	groups := slices.Collect(maps.Keys(st.Groups))
	slices.SortFunc(groups, func(x, y string) int {
		if c := st.Groups[y] - st.Groups[x]; c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	fmt.Fprintf(&b, "\nSuppressed alerts by group (%s):", plural(len(groups), "group"))
	rest := st.Other
	for i, g := range groups {
		if i >= DigestTopGroups {
			rest += st.Groups[g]
			continue
		}
		label := g
		if label == "" {
			label = "(no group)"
		}
		fmt.Fprintf(&b, "\n  %s: %d", label, st.Groups[g])
	}
	if rest > 0 {
		fmt.Fprintf(&b, "\n  and %s in other groups", plural(rest, "more alert"))
	}
	return b.String()
}

// floodState is Flood's JSON encoding.
type floodState struct {
	V       int                   `json:"v"`
	Rules   map[string]*floodRule `json:"rules,omitempty"`
	Digests []Document            `json:"digests,omitempty"`
}

// MarshalJSON encodes the counting state and the digests not yet flushed.
func (f *Flood) MarshalJSON() ([]byte, error) {
	return json.Marshal(floodState{V: floodVersion, Rules: f.rules, Digests: f.digests})
}

// UnmarshalJSON replaces the counting state with one encoded by
// MarshalJSON, keeping Cap and Metrics.
func (f *Flood) UnmarshalJSON(b []byte) error {
	var s floodState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("flood state: %w", err)
	}
	if s.V != floodVersion {
		return fmt.Errorf("flood state: unsupported version %d", s.V)
	}
	for id, st := range s.Rules {
		if st == nil {
			delete(s.Rules, id)
		}
	}
	f.rules, f.digests = s.Rules, s.Digests
	return nil
}

// plural returns "1 alert", "2 alerts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
