package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/redisstore"
	"github.com/secwatch/secwatch/internal/state"
)

// Names in the state directory that silences and outbox requests use
// (docs/delivery.md, "Silences" and "Outbox operations").
const (
	SilencedDir = "silenced" // <alert_id>.json: alerts a silence muted
	RequestsDir = "requests" // <name>.json: an OutboxRequest for the daemon
	silenceScan = 500 * time.Millisecond
)

// OutboxRequest asks a running daemon to act on one alert: Op is
// "redrive" or "drop", Kind "dead" (a dead letter) or "silenced".
type OutboxRequest struct {
	Op   string `json:"op"`
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// silencer mutes the alerts that match a silence, keeping each in its
// backend's silence store, and re-reads the silences (and, on the state
// directory, outbox requests) twice a second; the engine goroutine calls
// mute.
type silencer struct {
	store            silenceStore
	log              zerolog.Logger
	current          atomic.Pointer[alerting.Silences]
	count            *atomic.Int64
	lastErr, lastRaw string
}

// silenceStore is where a backend keeps silences and silenced alerts.
type silenceStore interface {
	// load returns the silences document; nil when there is none.
	load() ([]byte, error)
	// keep records the silenced alert e. It returns true when this call
	// recorded it, false when it was kept already (a replica, or this one
	// before a restart, kept the same firing). On an error nothing is
	// kept.
	keep(e alerting.SilencedEntry) (bool, error)
	// kept reports whether the firing id was kept before, silence or not.
	kept(id string) bool
	// tick runs after each load.
	tick()
}

func newSilencer(store silenceStore, count *atomic.Int64, log zerolog.Logger) *silencer {
	s := &silencer{store: store, count: count, log: log}
	s.scan()
	return s
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
	b, err := s.store.load()
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
	s.store.tick()
}

// mute reports whether a silence matches doc, or doc is a firing already
// kept (fired again after a restart); the alert is then kept by the
// store, counted once. When keeping it fails the alert is delivered
// instead: a silence never loses one.
func (s *silencer) mute(doc *alerting.Document, now time.Time) bool {
	if s == nil {
		return false
	}
	if !alerting.ValidAlertID(doc.AlertID) {
		return false // the outbox refuses it with an error
	}
	if s.store.kept(doc.AlertID) {
		return true // the same firing, silenced before a restart: kept already
	}
	id := s.current.Load().Match(doc, now)
	if id == "" {
		return false
	}
	fresh, err := s.store.keep(alerting.SilencedEntry{Doc: *doc, Silence: id, Silenced: now.UTC()})
	if err != nil {
		s.log.Error().Err(err).Str("alert_id", doc.AlertID).Msg("silenced alert not kept; delivering it")
		return false
	}
	if fresh {
		s.count.Add(1)
		s.log.Info().Str("alert_id", doc.AlertID).Str("rule", doc.Rule).Str("silence", id).Msg("alert silenced")
	}
	return true
}

// dirSilences keeps silences in the state directory: the silences file,
// <state_dir>/silenced/ and the outbox requests of <state_dir>/requests/.
type dirSilences struct {
	root, silenced, reqs *state.Dir
	outbox               *alerting.Outbox
	log                  zerolog.Logger

	// ids are the alerts in silenced/, listed once at start and kept up
	// to date by keep and do, so that kept costs no file system call per
	// alert.
	mu  sync.Mutex
	ids map[string]bool
}

func newDirSilences(root *state.Dir, ob *alerting.Outbox, log zerolog.Logger) (*dirSilences, error) {
	kept, err := root.Sub(SilencedDir)
	if err != nil {
		return nil, err
	}
	reqs, err := root.Sub(RequestsDir)
	if err != nil {
		return nil, err
	}
	names, err := kept.List()
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, ".json"); ok {
			ids[id] = true
		}
	}
	return &dirSilences{root: root, silenced: kept, reqs: reqs, outbox: ob, log: log, ids: ids}, nil
}

func (s *dirSilences) load() ([]byte, error) {
	b, err := s.root.Read(alerting.SilencesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (s *dirSilences) kept(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// forget removes the silenced copy of id (re-driven or dropped).
func (s *dirSilences) forget(id string) error {
	if err := s.silenced.Remove(id + ".json"); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.ids, id)
	s.mu.Unlock()
	return nil
}

// keep writes e synchronously (one fsync): a checkpoint never passes a
// silenced alert that is not on disk.
func (s *dirSilences) keep(e alerting.SilencedEntry) (bool, error) {
	b, err := json.Marshal(e)
	if err == nil {
		err = s.silenced.Write(e.Doc.AlertID+".json", b)
	}
	if err == nil {
		s.mu.Lock()
		s.ids[e.Doc.AlertID] = true
		s.mu.Unlock()
	}
	return err == nil, err
}

func (s *dirSilences) tick() { s.requests() }

// redisSilences keeps silences in Redis, shared by the replicas
// (docs/scaling.md, "Silences and outbox operations").
type redisSilences struct {
	s      *redisstore.Store
	outbox *redisstore.Outbox
}

func (s *redisSilences) load() ([]byte, error) { return s.s.Silences(context.Background()) }

// kept is false: a firing kept before holds its claim in Redis, which
// keep and the outbox's Put both refuse.
func (s *redisSilences) kept(string) bool { return false }

func (s *redisSilences) keep(e alerting.SilencedEntry) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	return s.outbox.KeepSilenced(e.Doc.AlertID, b)
}

func (s *redisSilences) tick() {}

// requests carries out and removes each request file.
func (s *dirSilences) requests() {
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

func (s *dirSilences) do(r OutboxRequest) error {
	switch {
	case r.Kind == "dead" && r.Op == "redrive":
		return s.outbox.Redrive(r.ID, time.Now())
	case r.Kind == "dead" && r.Op == "drop":
		return s.outbox.DropDeadLetter(r.ID)
	case r.Kind == "silenced" && r.Op == "redrive":
		e, err := ReadSilenced(s.silenced, r.ID)
		if err != nil {
			return err
		}
		if _, err := s.outbox.Put(e.Doc, time.Now()); err != nil {
			return err
		}
		return s.forget(r.ID)
	case r.Kind == "silenced" && r.Op == "drop":
		return s.forget(r.ID)
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
