package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/state"
)

// opsStore is where the silence and outbox commands act: the state
// directory or Redis (state.backend). Both are safe while daemons run.
type opsStore interface {
	readSilences() (*alerting.Silences, error)
	updateSilences(change func(*alerting.Silences) error) error
	// items returns the alerts of the given kinds (only id when it is
	// not ""), pending first.
	items(kinds map[string]bool, id string) ([]outboxItem, error)
	// act carries out r and says how.
	act(r daemon.OutboxRequest) (string, error)
	String() string // where, for messages
	close()
}

// openOps opens the state of the configuration at path for the commands.
func openOps(path string) (opsStore, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if cfg.State.Backend == config.BackendRedis {
		s, err := daemon.OpenRedis(cfg, zerolog.Nop())
		if err != nil {
			return nil, err
		}
		return &redisOps{s: s, addr: cfg.State.Redis.Addr}, nil
	}
	dir, err := state.OpenUnlocked(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	return dirOps{dir}, nil
}

// openOpsArgs checks that `secwatch cmd` got want operands and opens the
// store of the configuration at path; on failure it reports on stderr and
// returns the exit code.
func openOpsArgs(cmd string, args []string, want int, path string, stderr io.Writer) (opsStore, int) {
	if len(args) != want {
		fmt.Fprintf(stderr, "secwatch %s: want %d argument(s), got %q\n", cmd, want, args)
		return nil, exitUsage
	}
	store, err := openOps(path)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch %s: %v\n", cmd, err)
		return nil, exitFailed
	}
	return store, exitOK
}

// dirOps is the state directory.
type dirOps struct{ root *state.Dir }

func (d dirOps) readSilences() (*alerting.Silences, error) { return readSilences(d.root) }
func (d dirOps) updateSilences(change func(*alerting.Silences) error) error {
	return updateSilences(d.root, change)
}
func (d dirOps) items(kinds map[string]bool, id string) ([]outboxItem, error) {
	return outboxItems(d.root, kinds, id)
}
func (d dirOps) act(r daemon.OutboxRequest) (string, error) { return outboxAct(d.root, r) }
func (d dirOps) String() string                             { return d.root.Path() }
func (d dirOps) close()                                     {}

// redisOps is the Redis the replicas share; every change is one atomic
// Redis transaction or script.
type redisOps struct {
	s    redisOpsAPI
	addr string
}

// redisOpsAPI is what the commands call of the daemon's Redis store
// (daemon.OpenRedis). Kinds are "pending", "dead" and "silenced".
type redisOpsAPI interface {
	Silences(ctx context.Context) ([]byte, error)
	UpdateSilences(ctx context.Context, change func(old []byte) ([]byte, error)) error
	Entries(ctx context.Context, kind string) (map[string][]byte, error)
	Redrive(ctx context.Context, kind, id string, now time.Time) error
	Drop(ctx context.Context, kind, id string) error
	Close() error
}

func (r *redisOps) readSilences() (*alerting.Silences, error) {
	b, err := r.s.Silences(context.Background())
	if err != nil {
		return nil, err
	}
	return alerting.DecodeSilences(b)
}

func (r *redisOps) updateSilences(change func(*alerting.Silences) error) error {
	return r.s.UpdateSilences(context.Background(), func(old []byte) ([]byte, error) {
		set, err := alerting.DecodeSilences(old)
		if err != nil {
			return nil, err
		}
		if err := change(set); err != nil {
			return nil, err
		}
		return set.Encode()
	})
}

func (r *redisOps) items(kinds map[string]bool, id string) ([]outboxItem, error) {
	var items []outboxItem
	for _, kind := range []string{"pending", "dead", "silenced"} {
		if !kinds[kind] {
			continue
		}
		all, err := r.s.Entries(context.Background(), kind)
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(all))
		for aid := range all {
			if id == "" || aid == id {
				ids = append(ids, aid)
			}
		}
		slices.Sort(ids)
		for _, aid := range ids {
			items = append(items, itemOf(kind, aid, all[aid]))
		}
	}
	return items, nil
}

func (r *redisOps) act(req daemon.OutboxRequest) (string, error) {
	if req.Op == "drop" {
		return "done", r.s.Drop(context.Background(), req.Kind, req.ID)
	}
	if err := r.s.Redrive(context.Background(), req.Kind, req.ID, time.Now()); err != nil {
		return "", err
	}
	return "queued in redis; one running replica adopts it at its next heartbeat and delivers it (the first to start, when none runs)", nil
}

func (r *redisOps) String() string { return fmt.Sprintf("redis %s", r.addr) }
func (r *redisOps) close()         { r.s.Close() }
