package config

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"time"
)

// State backends.
const (
	BackendDir   = "dir"
	BackendRedis = "redis"
)

// Defaults of the state map.
const (
	DefaultRedisKeyPrefix = "secwatch:"
	DefaultRedisLease     = 15 * time.Second
)

// State selects where cursors, windows and the outbox live
// (docs/scaling.md).
//
// A config without a state map leaves State zero, which means the
// directory backend; with one, Backend is BackendDir or BackendRedis and
// Redis holds its effective values.
type State struct {
	Backend string // BackendDir (default), BackendRedis, or "" (no state map: dir)
	Redis   Redis  // set when Backend is BackendRedis
}

// Redis configures the shared state of active-active replicas.
type Redis struct {
	Addr string // host:port; required for backend redis
	// PasswordEnv names the environment variable holding the password
	// ("" for none). The password itself is never in the Config, so it
	// cannot end up in a log or an error.
	PasswordEnv string
	DB          int           // 0 .. 15
	TLS         bool          // default false
	KeyPrefix   string        // default "secwatch:"
	Lease       time.Duration // default 15s
}

var (
	stateKeys    = []string{"backend", "redis"}
	redisKeys    = []string{"addr", "password_env", "db", "tls", "key_prefix", "lease"}
	redisEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	keyPrefix    = regexp.MustCompile(`^[A-Za-z0-9_:.{}-]{1,64}$`)
)

func defaultState() State {
	return State{Backend: BackendDir, Redis: Redis{KeyPrefix: DefaultRedisKeyPrefix, Lease: DefaultRedisLease}}
}

// state decodes the state map.
func (p *parser) state(kv keyVal, s *State) {
	*s = defaultState()
	var redisKV *keyVal
	var backend *keyVal
	for _, kv := range p.mapping(kv.val, kv.path, stateKeys) {
		switch kv.name {
		case "backend":
			backend = &kv
			s.Backend, _ = p.oneOf(kv, []string{BackendDir, BackendRedis})
		case "redis":
			redisKV = &kv
			p.redis(kv, &s.Redis)
		}
	}
	switch {
	case s.Backend == BackendRedis && redisKV == nil:
		p.required(kv.val, "state.redis.addr", "required when state.backend is redis")
	case s.Backend == BackendRedis && s.Redis.Addr == "" && !p.hasKey(redisKV.val, "addr"):
		p.required(redisKV.val, "state.redis.addr", "required when state.backend is redis")
	case s.Backend != BackendRedis && redisKV != nil && backend != nil:
		p.errorf(redisKV.key, "state.redis", "only for state.backend redis, got backend %s", p.got(backend.val))
	case s.Backend != BackendRedis && redisKV != nil:
		p.errorf(redisKV.key, "state.redis", "only for state.backend redis (add \"backend: redis\")")
	}
}

func (p *parser) redis(kv keyVal, r *Redis) {
	for _, kv := range p.mapping(kv.val, kv.path, redisKeys) {
		switch kv.name {
		case "addr":
			s, ok := p.scalar(kv.val, kv.path, "host:port")
			if !ok {
				continue
			}
			// Only a host name or an address: a URL or "user:password@host"
			// is refused, so that no credential can reach the logs.
			host, port, err := net.SplitHostPort(s)
			n, perr := strconv.Atoi(port)
			_, aerr := netip.ParseAddr(host)
			if err != nil || perr != nil || n < 1 || n > 65535 || (aerr != nil && !hostnamePattern.MatchString(host)) {
				p.errorf(kv.val, kv.path, "must be host:port like \"redis.internal:6379\", got %s", p.got(kv.val))
				continue
			}
			r.Addr = s
		case "password_env":
			s, ok := p.scalar(kv.val, kv.path, "an environment variable name")
			switch {
			case !ok || s == "":
			case !redisEnvName.MatchString(s):
				p.errorf(kv.val, kv.path, "must name an environment variable (the password itself never goes in the file), got %s", p.got(kv.val))
			default:
				if _, set := p.getenv(s); !set {
					p.errorf(kv.val, kv.path, "environment variable %q is not set", s)
				}
				r.PasswordEnv = s
			}
		case "db":
			r.DB, _ = p.integer(kv, 0, 15)
		case "tls":
			r.TLS, _ = p.boolean(kv)
		case "key_prefix":
			if s, ok := p.scalar(kv.val, kv.path, "a key prefix"); ok {
				if keyPrefix.MatchString(s) {
					r.KeyPrefix = s
				} else {
					p.errorf(kv.val, kv.path, "must be 1 to 64 of A-Z a-z 0-9 _ : . { } -, got %s", p.got(kv.val))
				}
			}
		case "lease":
			r.Lease, _ = p.duration(kv, 3*time.Second, 10*time.Minute)
		}
	}
}
