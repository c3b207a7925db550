package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/secwatch/secwatch/internal/alerting"
)

// The kinds of alerts the outbox commands see, and the hash of each.
const (
	KindPending  = "pending"  // queued, owned by a replica
	KindDead     = "dead"     // dead-lettered
	KindSilenced = "silenced" // muted by a silence
)

// redriveOwner owns a re-driven alert until a replica adopts it: no
// replica heartbeat has this name (replica ids are host-pid-random), so
// the first replica to beat adopts it, atomically, and delivers it.
const redriveOwner = "(redrive)"

func (s *Store) kindKey(kind string) (string, error) {
	switch kind {
	case KindPending:
		return s.key("outbox"), nil
	case KindDead:
		return s.key("dead"), nil
	case KindSilenced:
		return s.key("silenced"), nil
	}
	return "", fmt.Errorf("unknown kind %q", kind)
}

// Entries returns the alerts of kind by alert_id: each an alerting.Entry
// in JSON, or for KindSilenced an alerting.SilencedEntry. It only reads.
func (s *Store) Entries(ctx context.Context, kind string) (map[string][]byte, error) {
	key, err := s.kindKey(kind)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	m, err := s.client.HGetAll(ctx, key).Result()
	if err := s.note("list "+kind, err); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(m))
	for id, v := range m {
		out[id] = []byte(v)
	}
	return out, nil
}

// redriveScript moves entry ARGV[1] from the hash KEYS[1] to the pending
// outbox, owned by redriveOwner, unless it changed or went meanwhile (0).
// The claim is released; the adopting replica claims it again.
//
//	KEYS: dead or silenced, outbox, owner, alert:<id>
//	ARGV: id, the entry read, the re-driven entry, redriveOwner
var redriveScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('DEL', KEYS[4])
return 1
`)

// Redrive moves the dead-lettered or silenced alert id back to the
// pending outbox in one atomic step: the alert starts over (queued at now,
// keeping the acks of a dead letter's notifiers), and exactly one running
// replica adopts it at its next heartbeat and delivers it; with none
// running, the first to start does. It is safe while replicas run.
func (s *Store) Redrive(ctx context.Context, kind, id string, now time.Time) error {
	if kind != KindDead && kind != KindSilenced {
		return fmt.Errorf("redrive %s: only dead-lettered or silenced alerts can be re-driven", id)
	}
	key, _ := s.kindKey(kind)
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	old, err := s.client.HGet(ctx, key, id).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redrive %s: no such %s alert", id, kind)
	}
	if err := s.note("redrive", err); err != nil {
		return err
	}
	e := alerting.Entry{Queued: now.UTC()}
	if kind == KindDead {
		var d alerting.Entry
		err = json.Unmarshal([]byte(old), &d)
		e.Doc, e.Acked = d.Doc, d.Acked
	} else {
		var d alerting.SilencedEntry
		err = json.Unmarshal([]byte(old), &d)
		e.Doc = d.Doc
	}
	if err == nil && e.Doc.AlertID != id {
		err = fmt.Errorf("entry holds alert_id %q", e.Doc.AlertID)
	}
	if err != nil {
		return fmt.Errorf("redrive %s: unusable entry: %w", id, err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	n, err := redriveScript.Run(ctx, s.client, []string{key, s.key("outbox"), s.key("owner"), s.key("alert:", id)},
		id, old, b, redriveOwner).Int()
	if err := s.note("redrive", err); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("redrive %s: changed or removed meanwhile (by another command?)", id)
	}
	return nil
}

// Drop deletes the dead-lettered or silenced alert id for good.
func (s *Store) Drop(ctx context.Context, kind, id string) error {
	if kind != KindDead && kind != KindSilenced {
		return fmt.Errorf("drop %s: only dead-lettered or silenced alerts can be dropped", id)
	}
	key, _ := s.kindKey(kind)
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	n, err := s.client.HDel(ctx, key, id).Result()
	if err := s.note("drop", err); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("drop %s: no such %s alert", id, kind)
	}
	return nil
}
