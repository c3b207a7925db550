package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

const stateSources = "sources:\n  - {name: in, type: stdin}\n"

func TestStateBackend(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		vars      map[string]string
		want      State
	}{
		{"absent", "", nil, State{}},
		{"dir", "state: {backend: dir}\n", nil, State{Backend: BackendDir, Redis: Redis{KeyPrefix: "secwatch:", Lease: 15 * time.Second}}},
		{"redis defaults", "state: {backend: redis, redis: {addr: \"redis.internal:6379\"}}\n", nil,
			State{Backend: BackendRedis, Redis: Redis{Addr: "redis.internal:6379", KeyPrefix: "secwatch:", Lease: 15 * time.Second}}},
		{"redis every key", `state:
  backend: redis
  redis:
    addr: ${REDIS_ADDR}
    password_env: REDIS_PASSWORD
    db: 2
    tls: true
    key_prefix: "{sw}:"
    lease: 30s
`, map[string]string{"REDIS_ADDR": "10.0.0.5:6380", "REDIS_PASSWORD": "hunter2"},
			State{Backend: BackendRedis, Redis: Redis{Addr: "10.0.0.5:6380", PasswordEnv: "REDIS_PASSWORD", DB: 2, TLS: true, KeyPrefix: "{sw}:", Lease: 30 * time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.src+stateSources, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			if c.State != tc.want {
				t.Errorf("got %+v, want %+v", c.State, tc.want)
			}
		})
	}
}

func TestStateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"redis without map", "state: {backend: redis}\n",
			`secwatch.yaml:1:8: state.redis.addr: required when state.backend is redis`},
		{"redis without addr", "state: {backend: redis, redis: {db: 1}}\n",
			`secwatch.yaml:1:32: state.redis.addr: required when state.backend is redis`},
		{"redis map for dir", "state: {backend: dir, redis: {addr: \"r:6379\"}}\n",
			`secwatch.yaml:1:23: state.redis: only for state.backend redis, got backend "dir"`},
		{"bad backend", "state: {backend: disk}\n",
			`secwatch.yaml:1:18: state.backend: must be one of dir, redis, got "disk" (did you mean "dir"?)`},
		{"bad addr", "state: {backend: redis, redis: {addr: redis}}\n",
			`secwatch.yaml:1:39: state.redis.addr: must be host:port like "redis.internal:6379", got "redis"`},
		{"credentials in addr", "state: {backend: redis, redis: {addr: \"u:pw@r:6379\"}}\n",
			`secwatch.yaml:1:39: state.redis.addr: must be host:port like "redis.internal:6379", got "u:pw@r:6379"`},
		{"url addr", "state: {backend: redis, redis: {addr: \"redis://r:6379\"}}\n",
			`secwatch.yaml:1:39: state.redis.addr: must be host:port like "redis.internal:6379", got "redis://r:6379"`},
		{"password in the file", "state: {backend: redis, redis: {addr: \"r:6379\", password_env: \"s3cr3t!\"}}\n",
			`secwatch.yaml:1:63: state.redis.password_env: must name an environment variable (the password itself never goes in the file), got "s3cr3t!"`},
		{"password variable unset", "state: {backend: redis, redis: {addr: \"r:6379\", password_env: REDIS_PASSWORD}}\n",
			`secwatch.yaml:1:63: state.redis.password_env: environment variable "REDIS_PASSWORD" is not set`},
		{"db range", "state: {backend: redis, redis: {addr: \"r:6379\", db: 16}}\n",
			`secwatch.yaml:1:53: state.redis.db: must be a whole number from 0 to 15, got "16"`},
		{"lease range", "state: {backend: redis, redis: {addr: \"r:6379\", lease: 1s}}\n",
			`secwatch.yaml:1:56: state.redis.lease: must be between 3s and 10m, got "1s"`},
		{"typo", "state: {backend: redis, redis: {adr: \"r:6379\"}}\n",
			`secwatch.yaml:1:33: state.redis.adr: unknown field (did you mean "addr"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.src+stateSources, nil)
			if got := errString(err); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestDocsNameEveryStateKey checks that docs/config.md has a table row for
// every key of the state map.
func TestDocsNameEveryStateKey(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|").FindAllStringSubmatch(string(data), -1) {
		rows[m[1]] = true
	}
	want := []string{"state", "state.backend"}
	for _, k := range redisKeys {
		want = append(want, "state.redis."+k)
	}
	for _, k := range want {
		if !rows[k] {
			t.Errorf("docs/config.md has no table row for %q", k)
		}
	}
	if !strings.Contains(string(data), "scaling.md") {
		t.Error("docs/config.md does not link docs/scaling.md")
	}
}
