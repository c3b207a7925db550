package config

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// Defaults of the keys that have one (docs/config.md lists them all).
const (
	DefaultStateDir           = "/var/lib/secwatch"
	DefaultListen             = "127.0.0.1:9464"
	DefaultShutdownGrace      = 20 * time.Second
	DefaultCheckpointInterval = 10 * time.Second
	DefaultTick               = time.Second
	DefaultMaxFuture          = ingest.MaxFuture
	DefaultFilePoll           = 250 * time.Millisecond
	DefaultCloudWatchPoll     = 5 * time.Second
	DefaultOverlap            = 2 * time.Minute
)

// defaults returns a Config holding every default that does not depend on
// other keys.
func defaults(file string) *Config {
	return &Config{
		File:     file,
		StateDir: DefaultStateDir,
		Rules:    []string{"rules"},
		Engine: Engine{
			MaxKeys:     rules.DefaultMaxKeys,
			MaxLateness: rules.DefaultMaxLateness,
			MaxFuture:   DefaultMaxFuture,
			Tick:        DefaultTick,
		},
		Alerts: Alerts{
			Stdout:         Stdout{Enabled: true, Format: "auto"},
			MaxAge:         24 * time.Hour,
			InitialBackoff: time.Second,
			MaxBackoff:     5 * time.Minute,
			AttemptTimeout: 30 * time.Second,
			StallAfter:     10 * time.Minute,
		},
		HTTP:               HTTP{Listen: DefaultListen},
		ShutdownGrace:      DefaultShutdownGrace,
		CheckpointInterval: DefaultCheckpointInterval,
		Log:                Log{Level: "info", Format: "auto"},
	}
}

var (
	topKeys    = []string{"state_dir", "state", "rules", "engine", "sources", "alerts", "http", "shutdown_grace", "checkpoint_interval", "log", "aws", "probes", "alarms"}
	engineKeys = []string{"max_keys", "max_lateness", "max_future", "tick"}
	alertsKeys = []string{"stdout", "sns", "max_age", "initial_backoff", "max_backoff", "attempt_timeout", "stall_after", "per_rule_hourly_cap", "notifiers"}
	stdoutKeys = []string{"enabled", "format"}
	snsKeys    = []string{"topic_arn", "region", "endpoint", "fifo", "format", "match"}
	httpKeys   = []string{"listen"}
	logKeys    = []string{"level", "format"}
	awsKeys    = []string{"region", "endpoint"}
)

// config decodes the root node, applies the defaults that depend on other
// keys and checks what involves several keys.
func (p *parser) config(root *yaml.Node) *Config {
	c := defaults(p.File)
	if root != nil && yamldiag.IsNull(root) {
		root = nil // "---" or "~" alone: an empty file
	}
	if root != nil && root.Kind != yaml.MappingNode {
		p.errorf(root, "", "a config file must be a map of settings, got %s", p.Describe(root))
		return c
	}
	var sources, alerts, sns, alarms *keyVal
	if root != nil {
		for _, kv := range p.mapping(root, "", topKeys) {
			switch kv.name {
			case "state_dir":
				p.stateDir(kv, &c.StateDir)
			case "state":
				p.state(kv, &c.State)
			case "rules":
				c.Rules = p.list(kv, checkPath)
				if kv.val.Kind == yaml.SequenceNode && len(kv.val.Content) == 0 {
					p.errorf(kv.val, kv.path, "must name at least one rule file or directory")
				}
			case "engine":
				p.engine(kv, &c.Engine)
			case "sources":
				sources = &kv
			case "alerts":
				alerts = &kv
				sns = p.alerts(kv, &c.Alerts)
			case "http":
				p.http(kv, &c.HTTP)
			case "shutdown_grace":
				c.ShutdownGrace, _ = p.duration(kv, time.Second, 10*time.Minute)
			case "checkpoint_interval":
				c.CheckpointInterval, _ = p.duration(kv, time.Second, 10*time.Minute)
			case "log":
				p.log(kv, &c.Log)
			case "aws":
				p.aws(kv, &c.AWS)
			case "alarms":
				alarms = &kv
				p.alarms(kv, &c.Alarms)
			case "probes":
				c.Probes = p.probes(kv)
			}
		}
	}
	if sources != nil {
		c.Sources = p.sources(*sources)
	} else if len(c.Probes) == 0 {
		p.required(root, "sources", "required: at least one source")
	}
	for i := range c.Sources {
		if s := &c.Sources[i]; s.Type == TypeCloudWatch || s.Type == TypeS3 {
			s.Region = cmp.Or(s.Region, c.AWS.Region)
			s.Endpoint = cmp.Or(s.Endpoint, c.AWS.Endpoint)
		}
	}
	if sns != nil {
		p.snsDefaults(*sns, &c.Alerts.SNS, c.AWS)
	}
	if alarms != nil {
		p.alarmsDefaults(*alarms, c)
	}
	if !c.Alerts.Stdout.Enabled && sns == nil && !p.hasKey(alerts.val, "notifiers") {
		at := p.valueOf(p.valueOf(alerts.val, "stdout"), "enabled")
		p.errorf(at, "alerts.stdout.enabled", "is false and neither alerts.sns nor alerts.notifiers is configured, so alerts would go nowhere")
	}
	return c
}

func (p *parser) stateDir(kv keyVal, dir *string) {
	s, ok := p.scalar(kv.val, kv.path, "a directory")
	switch {
	case !ok:
	case s == "":
		p.errorf(kv.val, kv.path, "must not be empty")
	case checkPath(s) != "":
		p.errorf(kv.val, kv.path, "%s, got %s", checkPath(s), p.got(kv.val))
	default:
		*dir = s
	}
}

func (p *parser) http(kv keyVal, h *HTTP) {
	for _, kv := range p.mapping(kv.val, kv.path, httpKeys) {
		if s, ok := p.scalar(kv.val, kv.path, "host:port"); ok && p.listen(kv, s) {
			h.Listen = s
		}
	}
}

func (p *parser) log(kv keyVal, l *Log) {
	for _, kv := range p.mapping(kv.val, kv.path, logKeys) {
		switch kv.name {
		case "level":
			l.Level, _ = p.oneOf(kv, []string{"debug", "info", "warn", "error"})
		case "format":
			l.Format, _ = p.oneOf(kv, []string{"auto", "json", "console"})
		}
	}
}

func (p *parser) aws(kv keyVal, a *AWS) {
	for _, kv := range p.mapping(kv.val, kv.path, awsKeys) {
		switch kv.name {
		case "region":
			a.Region = p.region(kv)
		case "endpoint":
			a.Endpoint = p.endpoint(kv)
		}
	}
}

// checkPath refuses "~": nothing expands it, so it would silently name a
// directory called "~".
func checkPath(s string) string {
	if s == "~" || strings.HasPrefix(s, "~/") {
		return `"~" is not expanded (use "${HOME}")`
	}
	return ""
}

func (p *parser) engine(kv keyVal, e *Engine) {
	for _, kv := range p.mapping(kv.val, kv.path, engineKeys) {
		switch kv.name {
		case "max_keys":
			e.MaxKeys, _ = p.integer(kv, 1, 10_000_000)
		case "max_lateness":
			e.MaxLateness, _ = p.duration(kv, time.Second, 24*time.Hour)
		case "max_future":
			e.MaxFuture, _ = p.duration(kv, time.Minute, 10*365*24*time.Hour)
		case "tick":
			e.Tick, _ = p.duration(kv, 100*time.Millisecond, time.Minute)
		}
	}
	// A failed key keeps its zero value, which is harmless: Parse returns
	// no Config when there is any problem.
}

// alerts decodes the alerts map. It returns the sns entry, whose defaults
// depend on the aws map, which may come later in the file.
func (p *parser) alerts(kv keyVal, a *Alerts) *keyVal {
	var sns *keyVal
	var initial, max *keyVal
	for _, kv := range p.mapping(kv.val, kv.path, alertsKeys) {
		switch kv.name {
		case "stdout":
			for _, kv := range p.mapping(kv.val, kv.path, stdoutKeys) {
				switch kv.name {
				case "enabled":
					if v, ok := p.boolean(kv); ok {
						a.Stdout.Enabled = v
					}
				case "format":
					a.Stdout.Format, _ = p.oneOf(kv, []string{"auto", "json", "text"})
				}
			}
		case "sns":
			sns = &kv
			p.sns(kv, &a.SNS)
		case "max_age":
			a.MaxAge, _ = p.duration(kv, time.Minute, 30*24*time.Hour)
		case "initial_backoff":
			initial = &kv
			a.InitialBackoff, _ = p.duration(kv, 10*time.Millisecond, time.Minute)
		case "max_backoff":
			max = &kv
			a.MaxBackoff, _ = p.duration(kv, time.Second, time.Hour)
		case "attempt_timeout":
			a.AttemptTimeout, _ = p.duration(kv, time.Second, 5*time.Minute)
		case "stall_after":
			a.StallAfter, _ = p.duration(kv, time.Second, 24*time.Hour)
		case "per_rule_hourly_cap":
			a.PerRuleHourlyCap, _ = p.integer(kv, 0, 1_000_000)
		case "notifiers":
			a.Notifiers = p.notifiers(kv)
		}
	}
	// The default max_backoff (5m) exceeds every valid initial_backoff, so
	// only an explicit max_backoff can be too small.
	if max != nil && a.InitialBackoff > 0 && a.MaxBackoff > 0 && a.MaxBackoff < a.InitialBackoff {
		want := fmtDuration(a.InitialBackoff)
		if initial != nil {
			want = p.got(initial.val)
		}
		p.errorf(max.val, max.path, "must be at least initial_backoff (%s), got %s", want, p.got(max.val))
	}
	return sns
}

var topicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:([a-z0-9-]+):[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

// topicARN returns v when it is an SNS topic ARN, else reports it and
// returns "".
func (p *parser) topicARN(kv keyVal, v string) string {
	if !topicARN.MatchString(v) {
		p.errorf(kv.val, kv.path, "must be an SNS topic ARN like \"arn:aws:sns:eu-west-1:123456789012:secwatch-alerts\", got %s", p.got(kv.val))
		return ""
	}
	return v
}

func (p *parser) sns(kv keyVal, s *SNS) {
	var fifo *keyVal
	for _, kv := range p.mapping(kv.val, kv.path, snsKeys) {
		switch kv.name {
		case "topic_arn":
			if v, ok := p.scalar(kv.val, kv.path, "an SNS topic ARN"); ok {
				s.TopicARN = p.topicARN(kv, v)
			}
		case "region":
			s.Region = p.region(kv)
		case "endpoint":
			s.Endpoint = p.endpoint(kv)
		case "fifo":
			fifo = &kv
			s.FIFO, _ = p.boolean(kv)
		case "format":
			s.Format, _ = p.oneOf(kv, []string{"document", "chatbot"})
			if s.Format == "document" {
				s.Format = ""
			}
		case "match":
			s.Match = p.matchers(kv)
		}
	}
	// Position of the sns map itself, for problems of the map as a whole.
	at := kv.val
	if s.TopicARN == "" {
		if !p.hasKey(kv.val, "topic_arn") {
			p.required(at, "alerts.sns.topic_arn", "required when alerts.sns is given")
		}
		return
	}
	isFIFO := strings.HasSuffix(s.TopicARN, ".fifo")
	if fifo == nil {
		s.FIFO = isFIFO
	} else if s.FIFO != isFIFO {
		if isFIFO {
			p.errorf(fifo.val, fifo.path, "is false but the topic name ends in \".fifo\"")
		} else {
			p.errorf(fifo.val, fifo.path, "is true but the topic name does not end in \".fifo\"")
		}
	}
}

// snsDefaults fills the SNS region and endpoint once the aws map is known.
// The client must use the topic's own region, so an explicit region that
// differs from the ARN's is a mistake.
func (p *parser) snsDefaults(kv keyVal, s *SNS, aws AWS) {
	if s.TopicARN == "" {
		return
	}
	arnRegion := topicARN.FindStringSubmatch(s.TopicARN)[1]
	if s.Region != "" && s.Region != arnRegion {
		n, arn := p.valueOf(kv.val, "region"), p.valueOf(kv.val, "topic_arn")
		if p.fromEnv[n] || p.fromEnv[arn] {
			p.errorf(n, "alerts.sns.region", "must be the region of alerts.sns.topic_arn, got %s for %s", p.got(n), p.got(arn))
		} else {
			p.errorf(n, "alerts.sns.region", "is %q but the topic is in %q", s.Region, arnRegion)
		}
	}
	s.Region = arnRegion
	s.Endpoint = cmp.Or(s.Endpoint, aws.Endpoint)
}

// hasKey reports whether map node n has the key name.
func (p *parser) hasKey(n *yaml.Node, name string) bool {
	return p.valueOf(n, name) != nil
}

// valueOf returns the value of key name in map node n, or nil.
func (p *parser) valueOf(n *yaml.Node, name string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == name {
			return n.Content[i+1]
		}
	}
	return nil
}

var regionPattern = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]+$`)

// region parses an AWS region name; "" means the SDK's default.
func (p *parser) region(kv keyVal) string {
	s, ok := p.scalar(kv.val, kv.path, "an AWS region")
	if !ok || s == "" {
		return ""
	}
	if !regionPattern.MatchString(s) {
		p.errorf(kv.val, kv.path, "must be an AWS region like \"eu-west-1\", got %s", p.got(kv.val))
		return ""
	}
	return s
}

// endpoint parses an endpoint override URL; "" means none.
func (p *parser) endpoint(kv keyVal) string {
	s, ok := p.scalar(kv.val, kv.path, "a URL")
	if !ok || s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(kv.val, kv.path, "must be an http or https URL like \"http://localhost:4566\", got %s", p.got(kv.val))
		return ""
	}
	return s
}

var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// listen checks a listen address: "" (disabled) or host:port, where host
// is empty (every interface), an IP address or a host name, and port is a
// number (0 picks a free port).
func (p *parser) listen(kv keyVal, s string) bool {
	if s == "" {
		return true
	}
	host, port, err := net.SplitHostPort(s)
	ok := err == nil
	if ok {
		n, err := strconv.Atoi(port)
		ok = err == nil && n >= 0 && n <= 65535 && !strings.HasPrefix(port, "+")
	}
	if ok && host != "" {
		_, err := netip.ParseAddr(host)
		ok = err == nil || hostnamePattern.MatchString(host)
	}
	if !ok {
		p.errorf(kv.val, kv.path, "must be host:port like %q, or \"\" to disable, got %s", DefaultListen, p.got(kv.val))
	}
	return ok
}

// describeTypes writes "type file" or "types file and cloudwatch".
func describeTypes(types []string) string {
	if len(types) == 1 {
		return "type " + types[0]
	}
	return fmt.Sprintf("types %s and %s", strings.Join(types[:len(types)-1], ", "), types[len(types)-1])
}

// ingestKeys maps the key prefixes of format.NewParser's errors to keys.
var ingestKeys = []string{"pattern", "time_field", "time_format", "time_zone"}

// checkParser builds the source's parser as the source will, so that a
// pattern that does not compile or a time_field a format does not use is
// a config error, not a failure at run time.
func (p *parser) checkParser(s *Source, n *yaml.Node, path string) {
	_, err := format.NewParser(s.Format, s.ParserOptions())
	if err == nil {
		return
	}
	key, msg := "format", err.Error()
	for _, k := range ingestKeys {
		if m, ok := strings.CutPrefix(msg, k+": "); ok {
			key, msg = k, m
			break
		}
	}
	at := p.valueOf(n, key)
	if at == nil {
		p.required(n, path+"."+key, "%s", msg)
		return
	}
	if p.fromEnv[at] {
		// The parser's message quotes the value; show the reference instead.
		msg = "invalid, got " + p.got(at)
	}
	p.errorf(at, path+"."+key, "%s", msg)
}
