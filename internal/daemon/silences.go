package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/state"
)

// Names in the state directory that silences and outbox requests use
// (docs/delivery.md, "Silences" and "Outbox operations").
const (
	SilencedDir = "silenced" // <alert_id>.json: alerts a silence muted
	RequestsDir = "requests" // <name>.json: an OutboxRequest for the daemon
	silenceScan = time.Second
)

// OutboxRequest asks a running daemon to act on one alert: Op is
// "redrive" or "drop", Kind "dead" (a dead letter) or "silenced".
type OutboxRequest struct {
	Op   string `json:"op"`
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// silencer mutes the alerts that match a silence, keeping each in the
// silenced directory, and carries out outbox requests. It re-reads both
// every second; the engine goroutine calls mute.
type silencer struct {
	root, kept, reqs *state.Dir
	outbox           *alerting.Outbox
	log              zerolog.Logger
	current          atomic.Pointer[alerting.Silences]
	count            *atomic.Int64
	lastErr, lastRaw string
}

func newSilencer(root *state.Dir, ob *alerting.Outbox, count *atomic.Int64, log zerolog.Logger) (*silencer, error) {
	kept, err := root.Sub(SilencedDir)
	if err != nil {
		return nil, err
	}
	reqs, err := root.Sub(RequestsDir)
	if err != nil {
		return nil, err
	}
	s := &silencer{root: root, kept: kept, reqs: reqs, outbox: ob, count: count, log: log}
	s.scan()
	return s, nil
}

// run scans until ctx is done.
func (s *silencer) run(ctx context.Context) {
	t := time.NewTicker(silenceScan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.scan()
		}
	}
}

func (s *silencer) scan() {
	b, err := s.root.Read(alerting.SilencesFile)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = nil, nil
	}
	var set *alerting.Silences
	if err == nil {
		set, err = alerting.DecodeSilences(b)
	}
	if err != nil {
		// Keep obeying the silences read last.
		if msg := err.Error(); msg != s.lastErr {
			s.log.Error().Err(err).Msg("silences unreadable; keeping the previous ones")
			s.lastErr = msg
		}
	} else {
		s.lastErr = ""
		s.current.Store(set)
		if string(b) != s.lastRaw {
			s.lastRaw = string(b)
			s.log.Info().Int("silences", len(set.List)).Msg("silences loaded")
		}
	}
	s.requests()
}

// mute reports whether a silence matches doc, or doc is a firing already
// kept (fired again after a restart); the alert is then on disk in the
// silenced directory, counted once. When that write fails the alert
// is delivered instead: a silence never loses one.
func (s *silencer) mute(doc *alerting.Document, now time.Time) bool {
	if s == nil {
		return false
	}
	if !alerting.ValidAlertID(doc.AlertID) {
		return false // the outbox refuses it with an error
	}
	if _, err := os.Stat(filepath.Join(s.kept.Path(), doc.AlertID+".json")); err == nil {
		return true // the same firing, silenced before a restart: kept already
	}
	id := s.current.Load().Match(doc, now)
	if id == "" {
		return false
	}
	b, err := json.Marshal(alerting.SilencedEntry{Doc: *doc, Silence: id, Silenced: now.UTC()})
	if err == nil {
		err = s.kept.Write(doc.AlertID+".json", b)
	}
	if err != nil {
		s.log.Error().Err(err).Str("alert_id", doc.AlertID).Msg("silenced alert not kept; delivering it")
		return false
	}
	s.count.Add(1)
	s.log.Info().Str("alert_id", doc.AlertID).Str("rule", doc.Rule).Str("silence", id).Msg("alert silenced")
	return true
}

// requests carries out and removes each request file.
func (s *silencer) requests() {
	names, err := s.reqs.List()
	if err != nil {
		return
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		var r OutboxRequest
		b, err := s.reqs.Read(n)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err == nil {
			err = s.do(r)
		}
		ev := s.log.Info()
		if err != nil {
			ev = s.log.Error().Err(err)
		}
		ev.Str("op", r.Op).Str("kind", r.Kind).Str("alert_id", r.ID).Msg("outbox request")
		s.reqs.Remove(n)
	}
}

func (s *silencer) do(r OutboxRequest) error {
	switch {
	case r.Kind == "dead" && r.Op == "redrive":
		return s.outbox.Redrive(r.ID, time.Now())
	case r.Kind == "dead" && r.Op == "drop":
		return s.outbox.DropDeadLetter(r.ID)
	case r.Kind == "silenced" && r.Op == "redrive":
		e, err := ReadSilenced(s.kept, r.ID)
		if err != nil {
			return err
		}
		if _, err := s.outbox.Put(e.Doc, time.Now()); err != nil {
			return err
		}
		return s.kept.Remove(r.ID + ".json")
	case r.Kind == "silenced" && r.Op == "drop":
		return s.kept.Remove(r.ID + ".json")
	}
	return errors.New("unknown request")
}

// ReadSilenced reads the silenced alert id of the silenced directory.
func ReadSilenced(kept *state.Dir, id string) (alerting.SilencedEntry, error) {
	var e alerting.SilencedEntry
	if !alerting.ValidAlertID(id) {
		return e, errors.New("invalid alert_id " + id)
	}
	b, err := kept.Read(id + ".json")
	if err == nil {
		err = json.Unmarshal(b, &e)
	}
	return e, err
}
