// Package config reads secwatch's configuration file: one YAML document,
// with ${VAR} references expanded from the environment, parsed, defaulted
// and validated in one pass that reports every problem at once
// (docs/config.md).
//
// It sits beside cmd/secwatch in the dependency map: cmd reads a Config and
// builds sources, the engine, notifiers and the HTTP listener from it.
// config imports internal/yamldiag (the strict YAML walker and its
// positioned problems, shared with rule files), internal/rules (engine
// defaults) and internal/ingest (to compile a regex source's pattern exactly
// as the source will), and nothing imports config but cmd.
package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/secwatch/secwatch/internal/yamldiag"
)

// Config is a parsed, defaulted and validated configuration file. Every
// field holds its effective value: a key the file leaves out holds its
// documented default.
type Config struct {
	// File is the path the configuration was read from, as given to Parse
	// or Load.
	File string
	// StateDir holds cursors, windows and the outbox. Default
	// "/var/lib/secwatch".
	StateDir string
	// State selects the state backend: the directory (default) or Redis
	// shared by replicas (state.go).
	State State
	// Rules are rule files and directories, as for rulefile.Load. Default
	// ["rules"].
	Rules              []string
	Engine             Engine
	Sources            []Source
	Alerts             Alerts
	HTTP               HTTP
	ShutdownGrace      time.Duration // default 20s
	CheckpointInterval time.Duration // default 10s
	Log                Log
	AWS                AWS
	Alarms             Alarms  // secwatch alarms and the heartbeat (alarms.go)
	Probes             []Probe // external probes (probes.go)
}

// Engine configures the rule engine (rules.Engine).
type Engine struct {
	MaxKeys     int           // groups kept per rule; default 100 000
	MaxLateness time.Duration // default 10m
	// MaxFuture: events stamped further ahead of the wall clock are
	// rejected as malformed (a forged far-future time would otherwise make
	// every real event late). Default ingest.MaxFuture (24h).
	MaxFuture time.Duration
	Tick      time.Duration // wall-clock Advance interval for absent rules; default 1s
}

// Source types.
const (
	TypeFile       = "file"
	TypeStdin      = "stdin"
	TypeCloudWatch = "cloudwatch"
)

// Where a file source starts reading a file it has no cursor for.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// Source is one input. Keys that do not apply to its Type are zero.
type Source struct {
	Name         string // unique, [a-z0-9][a-z0-9_-]*
	Type         string // TypeFile, TypeStdin, TypeCloudWatch or TypeS3
	Format       string // one of ingest.Formats; default "json"
	TimeField    string // optional; see ingest.Options
	Pattern      string // regex and syslog formats; already known to compile
	TimeFormat   string // optional; see format.Options; already known to be valid
	TimeZone     string // optional; see format.Options; already known to load
	MaxLineBytes int    // default ingest.DefaultMaxLineBytes (1 MiB)

	// PollInterval is how often a file or cloudwatch source looks for new
	// data: default 250ms for files, 5s for cloudwatch.
	PollInterval time.Duration
	// DownAfter is how long a file or cloudwatch source may go without
	// completing a read before it counts as down; 0 means
	// max(5m, 3 × PollInterval).
	DownAfter time.Duration

	// File only.
	Paths []string // glob patterns; Load makes relative ones relative to the config file
	Start string   // StartBeginning or StartEnd (default)

	// CloudWatch only. Exactly one of LogGroups and LogGroupPrefix is set.
	LogGroups      []string
	LogGroupPrefix string
	StreamPrefix   string
	FilterPattern  string
	Overlap        time.Duration // default 2m
	Region         string        // default AWS.Region ("" = the SDK's environment)
	Endpoint       string        // default AWS.Endpoint (cloudwatch and s3)

	S3 S3Source // type s3 only (s3.go)
}

// Alerts configures delivery (docs/delivery.md).
type Alerts struct {
	Stdout           Stdout
	SNS              SNS           // zero TopicARN: no SNS notifier
	Notifiers        []Notifier    // webhook, slack, pagerduty, alertmanager (notifiers.go)
	MaxAge           time.Duration // outbox dead-letter age; default 24h
	InitialBackoff   time.Duration // default 1s
	MaxBackoff       time.Duration // default 5m
	AttemptTimeout   time.Duration // default 30s
	StallAfter       time.Duration // /healthz: longest stretch without a delivery while alerts wait; default 10m
	PerRuleHourlyCap int           // 0 = no cap
}

// Stdout configures the stdout notifier.
type Stdout struct {
	Enabled bool   // default true
	Format  string // "auto" (default: text on a terminal, else json), "json" or "text"
}

// SNS configures the SNS notifier. It is off when TopicARN is empty.
type SNS struct {
	TopicARN string
	Region   string // default: the topic ARN's region
	Endpoint string // default AWS.Endpoint
	FIFO     bool   // default: whether the topic name ends in ".fifo"
	Format   string // "" (the alert document) or "chatbot"
	Match    []string
}

// HTTP configures the /healthz and /metrics listener.
type HTTP struct {
	Listen string // host:port; "" disables; default "127.0.0.1:9464"
}

// Log configures secwatch's own log.
type Log struct {
	Level  string // debug, info (default), warn, error
	Format string // "auto" (default: console on a terminal, else json), "json" or "console"
}

// AWS holds defaults for every AWS client.
type AWS struct {
	Region   string // "" = the SDK's environment (AWS_REGION, profile)
	Endpoint string // emulator override, for tests
}

// maxFileBytes bounds what Parse reads: a config file is a few kilobytes.
const maxFileBytes = 1 << 20

// Parse reads a configuration from r, expands ${VAR} references in its
// values with getenv (os.LookupEnv in production; nil: nothing is set),
// applies defaults and validates it. file names the input in error
// positions and becomes Config.File. Paths are kept as written; Load
// resolves relative ones.
//
// Every problem is reported at once as a yamldiag.ErrorList, sorted, one per
// line as `file:line:col: key.path: problem`; the Config is then nil. An
// error never shows the value of an environment variable, only its name.
func Parse(file string, r io.Reader, getenv func(string) (string, bool)) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(data) > maxFileBytes {
		return nil, yamldiag.ErrorList{{File: file, Msg: "config file is larger than 1 MiB"}}
	}
	p := newParser(file, getenv)
	root, ok := p.Document(data)
	if !ok {
		return nil, p.Errs.Err()
	}
	c := p.config(root)
	if err := p.Errs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads the configuration file at path with the process environment.
// Relative paths in it — state_dir, rules and the paths of file sources —
// are resolved against the directory of the file, so that a config works
// from any working directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // "open secwatch.yaml: no such file or directory"
	}
	c, err := Parse(path, bytes.NewReader(data), os.LookupEnv)
	if err != nil {
		return nil, err
	}
	c.resolve(filepath.Dir(path))
	return c, nil
}

// resolve makes relative paths relative to dir.
func (c *Config) resolve(dir string) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.StateDir = abs(c.StateDir)
	for i, r := range c.Rules {
		c.Rules[i] = abs(r)
	}
	for i := range c.Sources {
		for j, p := range c.Sources[i].Paths {
			c.Sources[i].Paths[j] = abs(p)
		}
	}
	for i := range c.Probes {
		if c.Probes[i].CABundle != "" {
			c.Probes[i].CABundle = abs(c.Probes[i].CABundle)
		}
		if c.Probes[i].APIKeyFile != "" {
			c.Probes[i].APIKeyFile = abs(c.Probes[i].APIKeyFile)
		}
	}
	for i := range c.Alerts.Notifiers {
		c.Alerts.Notifiers[i].resolve(abs)
	}
}
