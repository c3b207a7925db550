package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/redisstore"
	"github.com/secwatch/secwatch/internal/state"
)

// backend is where the daemon keeps its state (config state.backend): the
// state directory, or Redis shared by active-active replicas
// (docs/scaling.md). Its methods are called by Run, except saveCheckpoint,
// which the checkpoint writer calls (never two at once).
type backend interface {
	loadCheckpoint() (*checkpoint, []error)
	saveCheckpoint(ck *checkpoint) error
	// openOutbox opens the outbox; the errors are problems got past.
	openOutbox(notifiers []string) (outbox, []error, error)
	// start begins background work: wake is called when another
	// replica's alerts were adopted, lost when Redis lost this replica's
	// state (write a checkpoint again soon).
	start(wake, lost func())
	// silences returns the store of silences and silenced alerts; the
	// outbox is open.
	silences() (silenceStore, error)
	// active returns where the Alertmanager notifier name keeps the
	// alerts it re-posts.
	active(name string) (alerting.ActiveStore, error)
	writeMetrics(w *scrape)
	close()
}

// outbox is what the daemon needs of an outbox, which both backends'
// outboxes provide: the dispatcher's Queue, PutLater for the engine (the
// outbox makes the alert durable, then wakes the dispatcher itself), Sync
// before a checkpoint, and the counts /metrics shows.
type outbox interface {
	alerting.Queue
	PutLater(doc alerting.Document, now time.Time) (bool, error)
	Sync() error
	Len() int
	DeadLetters() int
	Queued() int64
	Duplicates() int64
	Close() error
}

var (
	_ outbox = (*alerting.Outbox)(nil)
	_ outbox = (*redisstore.Outbox)(nil)
)

// openBackend opens the configured backend.
func (d *Daemon) openBackend(log zerolog.Logger) (backend, error) {
	cfg := d.Config
	if cfg.State.Backend != config.BackendRedis {
		dir, err := state.Open(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		return &dirBackend{dir: dir, log: d.Log.With().Str("component", "outbox").Logger()}, nil
	}
	s, err := OpenRedis(cfg, d.Log)
	if err != nil {
		return nil, err
	}
	rc := cfg.State.Redis
	log.Info().Str("redis", rc.Addr).Int("db", rc.DB).Bool("tls", rc.TLS).Str("replica", s.Replica()).Msg("shared state in redis")
	return &redisBackend{s: s, log: d.Log.With().Str("component", "redis").Logger()}, nil
}

// OpenRedis returns the Redis store cfg's state.redis names, its password
// read from the environment; log receives the client's own messages. It
// does not connect (redisstore.Open). The silence and outbox commands use
// it as the daemon does.
func OpenRedis(cfg *config.Config, log zerolog.Logger) (*redisstore.Store, error) {
	rc := cfg.State.Redis
	var password string
	if rc.PasswordEnv != "" {
		var ok bool
		if password, ok = os.LookupEnv(rc.PasswordEnv); !ok {
			return nil, fmt.Errorf("state.redis.password_env: environment variable %q is not set", rc.PasswordEnv)
		}
	}
	return redisstore.Open(redisstore.Options{
		Addr: rc.Addr, Password: password, DB: rc.DB, TLS: rc.TLS,
		KeyPrefix: rc.KeyPrefix, Lease: rc.Lease, Scope: inputScope(cfg.Sources), Log: log,
	})
}

// inputScope names the input of the configured sources: replicas share
// checkpoints only within one scope. File and stdin sources are local to a
// host, so their scope includes the host name; CloudWatch log groups and
// S3 prefixes are the same input from anywhere. An s3 source's queue is
// left out: each replica has its own queue on the same bucket.
func inputScope(sources []config.Source) string {
	h := sha256.New()
	for _, sc := range sources {
		if sc.Type != config.TypeCloudWatch && sc.Type != config.TypeS3 {
			host, _ := os.Hostname()
			fmt.Fprintf(h, "host %q\n", host)
			break
		}
	}
	for _, sc := range sources {
		fmt.Fprintf(h, "%q %q %q %q %q %q %q %q\n", sc.Name, sc.Type, sc.Format, sc.Paths, sc.LogGroups, sc.LogGroupPrefix, sc.StreamPrefix, sc.FilterPattern)
		if sc.Type == config.TypeS3 {
			fmt.Fprintf(h, "s3 %q %q\n", sc.S3.Bucket, sc.S3.Prefix)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// dirBackend is the state directory.
type dirBackend struct {
	dir    *state.Dir
	outbox *alerting.Outbox
	log    zerolog.Logger
}

func (b *dirBackend) loadCheckpoint() (*checkpoint, []error) { return loadCheckpoint(b.dir) }
func (b *dirBackend) close()                                 { b.dir.Close() }

// saveCheckpoint first waits for the outbox to commit every alert queued
// so far (the engine queues them with PutLater): a checkpoint that says a
// group fired must never be on disk before that group's alert. A failed
// alert write does not hold the checkpoint back; the alert is delivered
// from memory, as when Put fails (and OnError has logged it).
func (b *dirBackend) saveCheckpoint(ck *checkpoint) error {
	if b.outbox != nil {
		b.outbox.Sync()
	}
	return saveCheckpoint(b.dir, ck)
}

func (b *dirBackend) openOutbox(notifiers []string) (outbox, []error, error) {
	o, err := alerting.OpenOutbox(filepath.Join(b.dir.Path(), "outbox"), notifiers)
	if err != nil {
		return nil, nil, err
	}
	o.OnError = func(err error) {
		b.log.Error().Err(err).Msg("outbox write failed; alert kept in memory")
	}
	b.outbox = o
	return o, o.LoadErrors(), nil
}

func (b *dirBackend) silences() (silenceStore, error) {
	return newDirSilences(b.dir, b.outbox, b.log)
}

// active keeps each re-posted alert in <state_dir>/alertmanager/<name>/.
func (b *dirBackend) active(name string) (alerting.ActiveStore, error) {
	d, err := b.dir.Sub("alertmanager")
	if err == nil {
		d, err = d.Sub(name)
	}
	if err != nil {
		return nil, err
	}
	return dirActive{d}, nil
}

// dirActive is an alerting.ActiveStore of one file per alert.
type dirActive struct{ d *state.Dir }

func (a dirActive) Save(id string, rec []byte) error { return a.d.Write(id+".json", rec) }
func (a dirActive) Remove(id string) error           { return a.d.Remove(id + ".json") }

func (a dirActive) Load() (map[string][]byte, error) {
	names, err := a.d.List()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ".json")
		if !ok || !alerting.ValidAlertID(id) {
			continue
		}
		if b, err := a.d.Read(n); err == nil {
			out[id] = b
		}
	}
	return out, nil
}

func (b *dirBackend) writeMetrics(w *scrape) {
	if b.outbox == nil {
		return
	}
	ids, evicted := b.outbox.DedupRecord()
	writeMetric(w, "secwatch_outbox_dedup_ids", "gauge", "delivered alert ids remembered to drop a re-fired alert", int64(ids))
	writeMetric(w, "secwatch_outbox_dedup_evicted_total", "counter", "delivered alert ids forgotten before the dedup horizon because the record was full", evicted)
}

// start hands the committed alerts to the dispatcher.
func (b *dirBackend) start(wake, lost func()) {
	if b.outbox != nil {
		b.outbox.OnDurable = wake
	}
}

// redisBackend is state shared through Redis.
type redisBackend struct {
	s      *redisstore.Store
	outbox *redisstore.Outbox
	log    zerolog.Logger
}

// errUnsynced refuses a checkpoint while the outbox holds changes Redis
// has not got: a replacement resuming from that checkpoint would not fire
// again the alerts only this process knows about.
var errUnsynced = errors.New("outbox changes not yet written to redis")

// loadCheckpoint returns the newest checkpoint any replica stored. Every
// replica reads the same input with the same rules, so the newest is the
// furthest along. Redis is asked a few times over a few seconds at start;
// if it stays unreachable the daemon starts without a checkpoint.
func (b *redisBackend) loadCheckpoint() (*checkpoint, []error) {
	var all map[string][]byte
	var err error
	for try := range 3 {
		if try > 0 {
			time.Sleep(time.Second)
		}
		if all, err = b.s.Checkpoints(context.Background()); err == nil {
			break
		}
	}
	if err != nil {
		return nil, []error{err}
	}
	var best *checkpoint
	var problems []error
	for replica, raw := range all {
		ck, err := decodeCheckpoint(raw)
		if err != nil {
			problems = append(problems, fmt.Errorf("checkpoint of replica %s in redis: %w", replica, err))
			continue
		}
		if best == nil || ck.Saved.After(best.Saved) {
			best = ck
		}
	}
	return best, problems
}

// saveCheckpoint first waits for the claimer to claim (or keep in memory)
// every alert the engine queued with PutLater so far, then refuses while
// any of them, or any other change, is not in Redis.
func (b *redisBackend) saveCheckpoint(ck *checkpoint) error {
	if b.outbox != nil {
		b.outbox.Sync() // failed claims were logged by OnError and are Unsynced
		if b.outbox.Unsynced() > 0 {
			return errUnsynced
		}
	}
	raw, err := encodeCheckpoint(ck)
	if err != nil {
		return err
	}
	return b.s.SaveCheckpoint(context.Background(), raw)
}

func (b *redisBackend) openOutbox(notifiers []string) (outbox, []error, error) {
	o, err := redisstore.OpenOutbox(context.Background(), b.s, notifiers)
	if err != nil {
		return nil, nil, err
	}
	o.OnError = func(err error) {
		b.log.Error().Err(err).Msg("outbox write failed; alert kept in memory")
	}
	b.outbox = o
	return o, nil, nil
}

func (b *redisBackend) start(wake, lost func()) {
	b.outbox.OnClaimed = wake
	b.outbox.Start(b.log, redisstore.Hooks{
		Adopted: func() {
			b.log.Info().Int64("adopted_total", b.outbox.Adopted()).Msg("adopted pending alerts of a stopped replica")
			wake()
		},
		Lost: func() {
			b.log.Warn().Msg("redis lost this replica's state (restarted without persistence?); writing it again")
			lost()
		},
	})
}

func (b *redisBackend) silences() (silenceStore, error) {
	return &redisSilences{s: b.s, outbox: b.outbox}, nil
}

func (b *redisBackend) active(name string) (alerting.ActiveStore, error) {
	return b.s.Active(name), nil
}

func (b *redisBackend) writeMetrics(w *scrape) {
	p := func(name, typ, help string, v int64) { writeMetric(w, name, typ, help, v) }
	up := int64(0)
	if b.s.Up() {
		up = 1
	}
	p("secwatch_redis_up", "gauge", "1 when the last redis call succeeded", up)
	p("secwatch_redis_errors_total", "counter", "redis calls that failed", b.s.Errors())
	if b.outbox != nil {
		p("secwatch_outbox_adopted_total", "counter", "pending alerts adopted from replicas whose lease expired", b.outbox.Adopted())
		p("secwatch_outbox_unclaimed_total", "counter", "alerts queued while redis was unreachable (delivered without cross-replica de-duplication)", b.outbox.Unclaimed())
		p("secwatch_outbox_unsynced", "gauge", "outbox changes redis has not got yet", int64(b.outbox.Unsynced()))
	}
}

func (b *redisBackend) close() { b.s.Close() }
