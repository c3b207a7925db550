package config

import (
	"cmp"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Alarms configures `secwatch alarms` and the daemon's heartbeat
// (docs/alarms.md). It is off (Enabled false, no AWS calls) unless the
// file has an alarms map.
type Alarms struct {
	// Enabled is true when the file has an alarms map: the daemon then
	// publishes its heartbeat (and ingestion lag) to CloudWatch.
	Enabled bool
	// TopicARN is the SNS topic every alarm notifies. Default
	// alerts.sns.topic_arn; "" leaves the alarms without actions (plan and
	// audit say so).
	TopicARN string
	// Region of the alarms, metric filters and metrics. Default
	// aws.region, then the topic's region; an alarm can only notify a
	// topic in its own region.
	Region   string
	Endpoint string // default aws.endpoint
	// LogGroup is where a rule's metric filter goes when its alarm block
	// names no log_group. Default: the one log group of the cloudwatch
	// sources, when they name exactly one.
	LogGroup string
	// Namespace of the rules' metrics. Default "secwatch".
	Namespace string
	// Owner is the value of the secwatch:managed tag on the alarms this
	// configuration manages. Default "true". Deployments sharing an
	// account and region need different owners: each changes and prunes
	// only the alarms tagged with its own.
	Owner string
	// NamePrefix names every alarm and metric filter: <prefix>-<rule id>,
	// <prefix>-heartbeat. Default "secwatch". Two deployments in one
	// account and region (staging beside prod) set different prefixes.
	NamePrefix string
	Heartbeat  Heartbeat
	Lag        Lag
}

// Heartbeat is the metric the daemon publishes while its engine loop runs,
// and the secwatch-heartbeat alarm that fires when it stops.
type Heartbeat struct {
	Enabled      bool          // default true
	Namespace    string        // default "secwatch"
	MetricName   string        // default "Heartbeat"
	Period       time.Duration // how often it is published; default 1m; 1m .. 1h, whole minutes
	MissingAfter time.Duration // the alarm fires after this long without one; default 5m, or 3 × Schedule
	// Schedule is the interval of scheduled `run --once` runs (each
	// publishes one heartbeat); 0: the daemon runs as a service.
	Schedule time.Duration
}

// Lag is the optional secwatch-ingestion-lag alarm on the greatest lag of
// the cloudwatch sources, published with the heartbeat.
type Lag struct {
	Enabled    bool          // default false; needs a cloudwatch source
	MetricName string        // default "IngestionLagSeconds" (namespace: heartbeat's)
	Threshold  time.Duration // default 5m
}

// Defaults of the alarms map.
const (
	DefaultAlarmNamespace   = "secwatch"
	DefaultAlarmNamePrefix  = "secwatch"
	DefaultHeartbeatMetric  = "Heartbeat"
	DefaultHeartbeatPeriod  = time.Minute
	DefaultHeartbeatMissing = 5 * time.Minute
	DefaultLagMetric        = "IngestionLagSeconds"
	// The operator metrics, published with the heartbeat in its namespace.
	SourcesDownMetric         = "SourcesDown"
	DeadLettersMetric         = "DeadLetters"
	DeliveryFailuresMetric    = "DeliveryFailures"
	DefaultLagThreshold       = 5 * time.Minute
	maxAlarmMetricNameLength  = 255
	maxAlarmNamespaceLength   = 255
	maxAlarmEvaluationSeconds = 24 * 60 * 60
)

var (
	alarmsKeys    = []string{"topic_arn", "region", "endpoint", "log_group", "namespace", "owner", "name_prefix", "heartbeat", "lag"}
	heartbeatKeys = []string{"enabled", "namespace", "metric_name", "period", "missing_after", "schedule"}
	lagKeys       = []string{"enabled", "metric_name", "threshold"}
)

func defaultAlarms() Alarms {
	return Alarms{
		Namespace:  DefaultAlarmNamespace,
		Owner:      "true",
		NamePrefix: DefaultAlarmNamePrefix,
		Heartbeat: Heartbeat{
			Enabled: true, Namespace: DefaultAlarmNamespace, MetricName: DefaultHeartbeatMetric,
			Period: DefaultHeartbeatPeriod, MissingAfter: DefaultHeartbeatMissing,
		},
		Lag: Lag{MetricName: DefaultLagMetric, Threshold: DefaultLagThreshold},
	}
}

// alarms decodes the alarms map. Its defaults depend on aws, alerts.sns
// and the sources, which may come later in the file: see alarmsDefaults.
func (p *parser) alarms(kv keyVal, a *Alarms) {
	*a = defaultAlarms()
	a.Enabled = true
	for _, kv := range p.mapping(kv.val, kv.path, alarmsKeys) {
		switch kv.name {
		case "topic_arn":
			if v, ok := p.scalar(kv.val, kv.path, "an SNS topic ARN"); ok && v != "" {
				a.TopicARN = p.topicARN(kv, v)
			}
		case "region":
			a.Region = p.region(kv)
		case "endpoint":
			a.Endpoint = p.endpoint(kv)
		case "log_group":
			if v, ok := p.scalar(kv.val, kv.path, "a log group name"); ok && v != "" {
				if msg := checkLogGroup(v); msg != "" {
					p.errorf(kv.val, kv.path, "%s, got %s", msg, p.got(kv.val))
				} else {
					a.LogGroup = v
				}
			}
		case "namespace":
			a.Namespace = p.metricName(kv, a.Namespace, maxAlarmNamespaceLength)
		case "owner":
			a.Owner = p.metricName(kv, a.Owner, 256)
		case "name_prefix":
			if v, ok := p.scalar(kv.val, kv.path, "a name prefix"); ok {
				if !namePrefixRE.MatchString(v) {
					p.errorf(kv.val, kv.path, "must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit and not ending in '-', got %s", p.got(kv.val))
				} else {
					a.NamePrefix = v
				}
			}
		case "heartbeat":
			p.heartbeat(kv, &a.Heartbeat)
		case "lag":
			p.lag(kv, &a.Lag)
		}
	}
}

// namePrefixRE: alarm names allow more, but the prefix is also a metric
// filter name (no ':' or '*') and is followed by "-".
var namePrefixRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_.])?$`)

func (p *parser) heartbeat(kv keyVal, h *Heartbeat) {
	var missing *keyVal
	for _, kv := range p.mapping(kv.val, kv.path, heartbeatKeys) {
		switch kv.name {
		case "enabled":
			if v, ok := p.boolean(kv); ok {
				h.Enabled = v
			}
		case "namespace":
			h.Namespace = p.metricName(kv, h.Namespace, maxAlarmNamespaceLength)
		case "metric_name":
			h.MetricName = p.metricName(kv, h.MetricName, maxAlarmMetricNameLength)
		case "period":
			if d, ok := p.duration(kv, time.Minute, time.Hour); ok {
				if d%time.Minute != 0 {
					// CloudWatch alarm periods on standard metrics are whole minutes.
					p.errorf(kv.val, kv.path, "must be a whole number of minutes, got %s", p.got(kv.val))
				} else {
					h.Period = d
				}
			}
		case "missing_after":
			missing = &kv
			h.MissingAfter, _ = p.duration(kv, time.Minute, maxAlarmEvaluationSeconds*time.Second)
		case "schedule":
			h.Schedule = p.schedule(kv)
		}
	}
	if missing != nil && h.Period > 0 && h.MissingAfter > 0 && (h.MissingAfter%h.Period != 0 || h.MissingAfter < h.Period) {
		p.errorf(missing.val, missing.path, "must be a whole multiple of heartbeat.period (%s), got %s", fmtDuration(h.Period), p.got(missing.val))
	}
}

// maxSchedule is the longest schedule whose heartbeat window (three runs)
// an alarm can wait for.
const maxSchedule = maxAlarmEvaluationSeconds * time.Second / 3

// scheduleRate is an EventBridge rate expression.
var scheduleRate = regexp.MustCompile(`^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$`)

// schedule parses alarms.heartbeat.schedule: a duration, or the rate()
// expression of the schedule itself; "" (an unset variable) is none.
func (p *parser) schedule(kv keyVal) time.Duration {
	s, ok := p.scalar(kv.val, kv.path, `a duration like "5m" or a rate expression like "rate(5 minutes)"`)
	if !ok || s == "" {
		return 0
	}
	if m := scheduleRate.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[m[2][0]]
		s = (time.Duration(n) * unit).String()
	} else if strings.HasPrefix(s, "cron(") {
		p.errorf(kv.val, kv.path, "a cron expression has no fixed interval: give the longest interval between two runs as a duration, got %s", p.got(kv.val))
		return 0
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.errorf(kv.val, kv.path, `must be a duration like "5m" or a rate expression like "rate(5 minutes)", got %s`, p.got(kv.val))
		return 0
	case d < time.Minute || d > maxSchedule:
		p.errorf(kv.val, kv.path, "must be between 1m and %s (the heartbeat alarm waits three runs, at most 24h), got %s", fmtDuration(maxSchedule), p.got(kv.val))
		return 0
	}
	return d
}

func (p *parser) lag(kv keyVal, l *Lag) {
	for _, kv := range p.mapping(kv.val, kv.path, lagKeys) {
		switch kv.name {
		case "enabled":
			if v, ok := p.boolean(kv); ok {
				l.Enabled = v
			}
		case "metric_name":
			l.MetricName = p.metricName(kv, l.MetricName, maxAlarmMetricNameLength)
		case "threshold":
			l.Threshold, _ = p.duration(kv, time.Second, 24*time.Hour)
		}
	}
}

// metricName parses a CloudWatch namespace or metric name: printable
// ASCII, no leading colon, at most max characters.
func (p *parser) metricName(kv keyVal, def string, max int) string {
	s, ok := p.scalar(kv.val, kv.path, "a string")
	if !ok {
		return def
	}
	bad := s == "" || len(s) > max || s[0] == ':'
	for i := 0; i < len(s) && !bad; i++ {
		bad = s[i] < 0x20 || s[i] > 0x7e
	}
	if bad {
		p.errorf(kv.val, kv.path, "must be 1 to %d printable ASCII characters not starting with \":\", got %s", max, p.got(kv.val))
		return def
	}
	return s
}

// alarmsDefaults fills what depends on other keys once the whole file is
// read, and checks what involves several keys.
func (p *parser) alarmsDefaults(kv keyVal, c *Config) {
	a := &c.Alarms
	if a.TopicARN == "" && !p.hasKey(kv.val, "topic_arn") {
		a.TopicARN = c.Alerts.SNS.TopicARN
	}
	a.Endpoint = cmp.Or(a.Endpoint, c.AWS.Endpoint)
	var topicRegion string
	if m := topicARN.FindStringSubmatch(a.TopicARN); m != nil {
		topicRegion = m[1]
	}
	a.Region = cmp.Or(a.Region, c.AWS.Region, topicRegion)
	if topicRegion != "" && a.Region != topicRegion {
		at := p.valueOf(kv.val, "region")
		path := "alarms.region"
		if at == nil {
			at, path = p.valueOf(kv.val, "topic_arn"), "alarms.topic_arn"
		}
		if at == nil {
			at = kv.val
		}
		p.errorf(at, path, "alarms can only notify a topic in their own region: the alarms are in %q, the topic in %q", a.Region, topicRegion)
	}
	var groups []string
	hasCloudWatch := false
	for _, s := range c.Sources {
		if s.Type == TypeCloudWatch {
			hasCloudWatch = true
			groups = append(groups, s.LogGroups...)
			if s.LogGroupPrefix != "" {
				groups = append(groups, "", "") // a prefix names no single group
			}
		}
	}
	if a.LogGroup == "" && len(groups) == 1 {
		a.LogGroup = groups[0]
	}
	if a.Lag.Enabled {
		at := p.valueOf(p.valueOf(kv.val, "lag"), "enabled")
		switch {
		case !hasCloudWatch:
			p.errorf(at, "alarms.lag.enabled", "is true but no source has type cloudwatch, so there is no ingestion lag to watch")
		case !a.Heartbeat.Enabled:
			p.errorf(at, "alarms.lag.enabled", "is true but alarms.heartbeat.enabled is false; the lag is published with the heartbeat")
		}
	}
	hb := p.valueOf(kv.val, "heartbeat")
	if h := &a.Heartbeat; h.Period > 0 && !p.hasKey(hb, "missing_after") {
		// The default, rounded up to whole periods: three runs of a
		// schedule, so that one late or failed run does not page.
		h.MissingAfter = (max(DefaultHeartbeatMissing, 3*h.Schedule) + h.Period - 1) / h.Period * h.Period
	} else if h.Schedule > 0 && h.MissingAfter > 0 && h.MissingAfter <= h.Schedule {
		at := p.valueOf(hb, "missing_after")
		p.errorf(at, "alarms.heartbeat.missing_after", "must be longer than alarms.heartbeat.schedule (%s): a run publishes one heartbeat, so the alarm would fire between every two runs; got %s", fmtDuration(h.Schedule), p.got(at))
	}
}
