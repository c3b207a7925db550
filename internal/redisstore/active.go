package redisstore

import (
	"context"

	"github.com/secwatch/secwatch/internal/alerting"
)

// Active keeps the alerts the Alertmanager notifier name re-posts in one
// hash, shared by the replicas: each re-posts them all until their end,
// whichever replica delivered them (alerting.ActiveStore).
func (s *Store) Active(name string) alerting.ActiveStore {
	return &active{s: s, key: s.key("alertmanager:", name)}
}

type active struct {
	s   *Store
	key string
}

func (a *active) Save(id string, record []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return a.s.note("save active alert", a.s.client.HSet(ctx, a.key, id, record).Err())
}

func (a *active) Remove(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return a.s.note("remove active alert", a.s.client.HDel(ctx, a.key, id).Err())
}

func (a *active) Load() (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	m, err := a.s.client.HGetAll(ctx, a.key).Result()
	if err := a.s.note("load active alerts", err); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(m))
	for id, v := range m {
		out[id] = []byte(v)
	}
	return out, nil
}
