package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/redact"
)

// Defaults of the Options' zero-valued fields.
const (
	DefaultKeyPrefix = "secwatch:"
	DefaultLease     = 15 * time.Second
	// CheckpointTTL is how long a replica's checkpoint outlives its last
	// save: a replacement started within a week resumes from it.
	CheckpointTTL = 7 * 24 * time.Hour
	// opTimeout bounds one Redis call (with its retry), so that a Redis
	// that hangs delays an alert by at most this much before the Outbox
	// goes on without it.
	opTimeout = 2 * time.Second
)

// Options configure a Store.
type Options struct {
	Addr     string // host:port
	Password string // "" for none; never logged
	DB       int
	TLS      bool // verify the server's certificate against the system roots
	// KeyPrefix starts every key; "" means DefaultKeyPrefix.
	KeyPrefix string
	// Lease is how long a replica's heartbeat lives; a replica silent for
	// longer has its pending alerts adopted. 0 means DefaultLease.
	Lease time.Duration
	// Replica names this process; "" means host-pid-random. It must be
	// unique among the live replicas.
	Replica string
	// Scope names the input: only replicas with the same scope read each
	// other's checkpoints (a checkpoint's cursors and windows are only
	// meaningful for the input they were made from).
	Scope string
	// Log receives the Redis client's own messages (connection pool
	// trouble) at debug level, with the password masked. The zero Logger
	// discards them.
	Log zerolog.Logger
}

// Store is the connection to the Redis that the replicas share. It is safe
// for concurrent use. Redis errors are counted (Errors) and flip Up to
// false until a call succeeds again.
type Store struct {
	client  *redis.Client
	prefix  string
	lease   time.Duration
	replica string
	scope   string

	up     atomic.Bool
	errors atomic.Int64
}

// Open returns a Store. It does not connect: the client connects on first
// use and reconnects by itself after Redis restarts.
func Open(o Options) (*Store, error) {
	if o.Addr == "" {
		return nil, errors.New("redis: no address")
	}
	opt := &redis.Options{
		Addr: o.Addr, Password: o.Password, DB: o.DB,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		MaxRetries: 1, PoolSize: 8, DisableIdentity: true,
		// One dial per attempt: a Redis that refuses connections is
		// reported at once, not after the pool's five dials.
		DialerRetries:            1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if o.TLS {
		host, _, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return nil, fmt.Errorf("redis address %q: %w", o.Addr, err)
		}
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	s := &Store{
		client:  redis.NewClient(opt),
		prefix:  o.KeyPrefix,
		lease:   o.Lease,
		replica: o.Replica,
		scope:   o.Scope,
	}
	if s.prefix == "" {
		s.prefix = DefaultKeyPrefix
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if s.replica == "" {
		s.replica = replicaID()
	}
	s.up.Store(true)
	// The client's logger is global to the package; the daemon opens one
	// Store per process.
	redis.SetLogger(clientLog{log: o.Log, password: o.Password})
	return s, nil
}

// clientLog passes go-redis's messages to zerolog, masking the password
// and anything that looks like a credential.
type clientLog struct {
	log      zerolog.Logger
	password string
}

func (l clientLog) Printf(_ context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if l.password != "" {
		msg = strings.ReplaceAll(msg, l.password, "[redacted]")
	}
	l.log.Debug().Str("component", "redis-client").Msg(redact.Text(msg))
}

func replicaID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "secwatch"
	}
	var b [4]byte
	rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Replica returns this process's replica id.
func (s *Store) Replica() string { return s.replica }

// Lease returns the heartbeat lease.
func (s *Store) Lease() time.Duration { return s.lease }

// Up reports whether the last Redis call succeeded.
func (s *Store) Up() bool { return s.up.Load() }

// Errors returns the number of failed Redis calls so far.
func (s *Store) Errors() int64 { return s.errors.Load() }

// Close closes the client's connections.
func (s *Store) Close() error { return s.client.Close() }

func (s *Store) key(parts ...string) string {
	k := s.prefix
	for _, p := range parts {
		k += p
	}
	return k
}

// note records the outcome of a Redis call and returns err, wrapped.
func (s *Store) note(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		s.up.Store(true)
		return nil
	}
	s.up.Store(false)
	s.errors.Add(1)
	return fmt.Errorf("redis %s: %w", op, err)
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.note("ping", s.client.Ping(ctx).Err())
}

// SaveCheckpoint stores this replica's newest checkpoint.
func (s *Store) SaveCheckpoint(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.note("save checkpoint", s.client.Set(ctx, s.key("checkpoint:", s.scope, ":", s.replica), b, CheckpointTTL).Err())
}

// Checkpoints returns the stored checkpoint of every replica of this
// scope, keyed by replica id, for the caller to pick the newest. Keys are
// found with SCAN, in batches of 100, and read with one MGET per batch.
func (s *Store) Checkpoints(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*opTimeout)
	defer cancel()
	out := map[string][]byte{}
	base := s.key("checkpoint:", s.scope, ":")
	pattern := base + "*"
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(ctx, cursor, pattern, 100).Result()
		if err != nil {
			return nil, s.note("load checkpoints", err)
		}
		if len(keys) > 0 {
			vals, err := s.client.MGet(ctx, keys...).Result()
			if err != nil {
				return nil, s.note("load checkpoints", err)
			}
			for i, v := range vals {
				if str, ok := v.(string); ok {
					out[keys[i][len(base):]] = []byte(str)
				}
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	s.note("load checkpoints", nil)
	return out, nil
}
