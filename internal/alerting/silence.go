package alerting

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/match"
)

// Silence mutes the alerts every one of its matchers accepts (the names
// Routed's matchers see: rule, severity, alert_id, labels, group fields)
// from Starts until Ends. A muted alert is kept and counted, not sent
// (docs/delivery.md, "Silences").
type Silence struct {
	ID       string    `json:"id"`
	Matchers []string  `json:"matchers"`
	Comment  string    `json:"comment,omitempty"`
	Starts   time.Time `json:"starts"`
	Ends     time.Time `json:"ends"`

	parsed []match.Matcher
}

// Active reports whether s mutes alerts at now.
func (s *Silence) Active(now time.Time) bool {
	return !now.Before(s.Starts) && now.Before(s.Ends)
}

// Silences is the set of silences stored with the state, as one JSON
// document (SilencesFile). The zero value holds none.
type Silences struct {
	List []Silence `json:"silences"`
}

// SilencesFile is the name of the silences file in the state directory.
const SilencesFile = "silences"

// NewSilence returns an active silence from now for d, with a random id.
// It fails when a matcher does not parse, when there is none, or when d is
// not positive.
func NewSilence(matchers []string, d time.Duration, comment string, now time.Time) (Silence, error) {
	if len(matchers) == 0 {
		return Silence{}, errors.New("silence: at least one --matcher is required")
	}
	if d <= 0 {
		return Silence{}, fmt.Errorf("silence: --for must be positive, got %q", d)
	}
	ms, err := match.ParseAll(matchers)
	if err != nil {
		return Silence{}, fmt.Errorf("silence: %w", err)
	}
	var b [8]byte
	rand.Read(b[:])
	now = now.UTC()
	return Silence{ID: hex.EncodeToString(b[:]), Matchers: slices.Clone(matchers), Comment: comment,
		Starts: now, Ends: now.Add(d), parsed: ms}, nil
}

// DecodeSilences decodes a silences file and parses every matcher. A nil
// or empty payload holds no silences.
func DecodeSilences(b []byte) (*Silences, error) {
	s := &Silences{}
	if len(b) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("decode silences: %w", err)
	}
	for i := range s.List {
		ms, err := match.ParseAll(s.List[i].Matchers)
		if err != nil {
			return nil, fmt.Errorf("decode silences: silence %s: %w", s.List[i].ID, err)
		}
		s.List[i].parsed = ms
	}
	return s, nil
}

// Encode returns the silences file's payload.
func (s *Silences) Encode() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }

// Match returns the id of the first silence active at now that mutes
// doc, or "" when none does. A nil Silences mutes nothing.
func (s *Silences) Match(doc *Document, now time.Time) string {
	if s == nil {
		return ""
	}
	for i := range s.List {
		if sl := &s.List[i]; sl.Active(now) && len(sl.parsed) > 0 && Matches(sl.parsed, doc) {
			return sl.ID
		}
	}
	return ""
}

// Expire ends the silence whose id is id, or starts with it (at least 4
// characters), at now. It fails when none or several match, or when the
// silence has already ended.
func (s *Silences) Expire(id string, now time.Time) error {
	var hit *Silence
	for i := range s.List {
		if sl := &s.List[i]; sl.ID == id || (len(id) >= 4 && strings.HasPrefix(sl.ID, id)) {
			if hit != nil {
				return fmt.Errorf("silence expire: %q names more than one silence", id)
			}
			hit = sl
		}
	}
	switch {
	case hit == nil:
		return fmt.Errorf("silence expire: no silence %q", id)
	case !now.Before(hit.Ends):
		return fmt.Errorf("silence expire: silence %s already ended at %s", hit.ID, hit.Ends.Format(time.RFC3339))
	}
	hit.Ends = now.UTC()
	return nil
}

// Prune drops the silences that ended before cutoff, so the file does not
// grow for ever.
func (s *Silences) Prune(cutoff time.Time) {
	s.List = slices.DeleteFunc(s.List, func(sl Silence) bool { return sl.Ends.Before(cutoff) })
}

// SilencedEntry is an alert a silence muted, as kept in
// <state_dir>/silenced/<alert_id>.json.
type SilencedEntry struct {
	Doc      Document  `json:"doc"`
	Silence  string    `json:"silence"`
	Silenced time.Time `json:"silenced"`
}
