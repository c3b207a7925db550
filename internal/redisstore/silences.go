package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Silences returns the silences document the commands store (an
// alerting.Silences in JSON), or nil when there is none. Replicas read it
// every second.
func (s *Store) Silences(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	b, err := s.client.Get(ctx, s.key("silences")).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, s.note("load silences", nil)
	}
	return b, s.note("load silences", err)
}

// UpdateSilences replaces the silences document old with change(old)
// atomically: under WATCH, tried again when another command changed it
// meanwhile, so two commands never lose each other's change. An error of
// change is returned as it is, and nothing is written.
func (s *Store) UpdateSilences(ctx context.Context, change func(old []byte) ([]byte, error)) error {
	key := s.key("silences")
	for range 20 {
		cctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
		var changeErr error
		err := s.client.Watch(cctx, func(tx *redis.Tx) error {
			old, err := tx.Get(cctx, key).Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			b, err := change(old)
			if err != nil {
				changeErr = err
				return err
			}
			_, err = tx.TxPipelined(cctx, func(p redis.Pipeliner) error { return p.Set(cctx, key, b, 0).Err() })
			return err
		}, key)
		cancel()
		switch {
		case changeErr != nil:
			return changeErr
		case errors.Is(err, redis.TxFailedErr):
			continue
		}
		return s.note("update silences", err)
	}
	return errors.New("redis update silences: changed by others too often; try again")
}

// keepScript keeps a silenced alert once across replicas: it claims the
// alert_id as "silenced" for the dedup horizon — so that no replica queues
// the same firing later — and stores the entry in the silenced hash. It
// returns 0, changing nothing, when the id is claimed already (silenced
// by another replica, or queued by one before the silence).
//
//	KEYS: alert:<id>, silenced
//	ARGV: id, entry JSON, horizon ms
var keepScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], 'silenced', 'PX', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`)

// KeepSilenced records the silenced alert id (its alerting.SilencedEntry
// in JSON) in Redis. It returns true when this call recorded it, false
// when the id was claimed already: kept by another replica (or by this one
// before a restart), or queued for delivery by a replica before the
// silence. Either way the alert must not be queued here. On an error
// nothing is recorded and the caller delivers the alert instead.
func (o *Outbox) KeepSilenced(id string, entry []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	n, err := keepScript.Run(ctx, o.s.client, []string{o.s.key("alert:", id), o.s.key("silenced")},
		id, entry, o.horizon().Milliseconds()).Int()
	if err := o.s.note("keep silenced alert", err); err != nil {
		return false, fmt.Errorf("keep silenced alert %s: %w", id, err)
	}
	return n == 1, nil
}
