package alarms

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/rules"
)

// Names and tags of secwatch's resources. A resource is named
// <prefix>-<rule id>, <prefix>-heartbeat or <prefix>-ingestion-lag.
const (
	DefaultNamePrefix = "secwatch"
	HeartbeatName     = DefaultNamePrefix + "-" + heartbeatSuffix // under the default prefix
	LagName           = DefaultNamePrefix + "-" + lagSuffix

	heartbeatSuffix = "heartbeat"
	lagSuffix       = "ingestion-lag"
	// The operator alarms' names: <prefix>-sources-down and so on.
	sourcesDownSuffix      = "sources-down"
	deadLettersSuffix      = "dead-letters"
	deliveryFailuresSuffix = "delivery-failures"

	TagManaged = "secwatch:managed"
	TagRule    = "secwatch:rule"
	TagHash    = "secwatch:hash"
	// TagPrefix is the name prefix of the deployment that made the alarm;
	// absent means DefaultNamePrefix (alarms made before prefixes).
	TagPrefix = "secwatch:prefix"
)

// namePrefix returns "<prefix>-" for a configured prefix ("" means
// DefaultNamePrefix).
func namePrefix(p string) string { return cmp.Or(p, DefaultNamePrefix) + "-" }

// Comparison operators, statistics and missing-data treatments used.
const (
	greaterThan  = "GreaterThanThreshold"
	lessThan     = "LessThanThreshold"
	notBreaching = "notBreaching"
	breaching    = "breaching"
)

// Settings are the account-wide choices of docs/config.md's alarms map.
type Settings struct {
	// TopicARN is every alarm's action; "" leaves alarms without actions.
	TopicARN string
	// LogGroup is the metric filters' log group for rules whose alarm
	// block names none; "" makes such rules an error.
	LogGroup string
	// Namespace of the rules' metrics; "" means "secwatch".
	Namespace string
	Heartbeat *Heartbeat // nil: no heartbeat alarm
	Lag       *Lag       // nil: no ingestion-lag alarm
	Operator  *Operator  // nil: no alarms on the operator metrics
	// Owner is the value of the secwatch:managed tag; "" means "true".
	// Deployments that share an account and region set different owners,
	// and each plans and prunes only its own alarms.
	Owner string
	// NamePrefix names every resource (<NamePrefix>-<rule id>,
	// <NamePrefix>-heartbeat); "" means DefaultNamePrefix. Deployments
	// sharing an account and region set different prefixes.
	NamePrefix string
	// Formats maps a log group to the ingest format of the source that
	// reads it: a rule's filter pattern is compiled for what a metric
	// filter sees of that format's events. A group not in it takes the
	// format of the longest PrefixFormats key it starts with; a group in
	// neither is compiled by the rule's alarm.format.
	Formats       map[string]string
	PrefixFormats map[string]string // log_group_prefix → format
}

// formatOf returns the format of the source reading group, or "".
func (s Settings) formatOf(group string) string {
	if f, ok := s.Formats[group]; ok {
		return f
	}
	best, format := -1, ""
	for p, f := range s.PrefixFormats {
		if strings.HasPrefix(group, p) && len(p) > best {
			best, format = len(p), f
		}
	}
	return format
}

func owner(s string) string { return cmp.Or(s, "true") }

// Heartbeat describes the heartbeat metric and its alarm.
type Heartbeat struct {
	Namespace, MetricName string
	Period                time.Duration // whole minutes; less than 1m means 1m
	MissingAfter          time.Duration // a whole multiple of Period
}

// Lag describes the ingestion-lag alarm: Maximum of the lag metric (in
// seconds, published with the heartbeat) above Threshold.
type Lag struct {
	Namespace, MetricName string
	Period                time.Duration
	Threshold             time.Duration
}

// Operator describes the alarms on the operator metrics the daemon
// publishes with its heartbeat, each without dimensions in Namespace: a
// source down and dead letters alarm on a Maximum above 0 in one period,
// delivery failures on a Sum above 0 in three periods in a row. Missing
// data is not breaching: a silent daemon is the heartbeat's alarm.
type Operator struct {
	Namespace                                  string
	Period                                     time.Duration // less than 1m means 1m
	SourcesDown, DeadLetters, DeliveryFailures string        // metric names
}

// alarms returns the operator alarms of o under the settings s.
func (o *Operator) alarms(s Settings) []Resource {
	prefix := namePrefix(s.NamePrefix)
	var out []Resource
	for _, a := range []Alarm{
		{Name: prefix + sourcesDownSuffix, MetricName: o.SourcesDown, Statistic: "Maximum", EvaluationPeriods: 1,
			Description: "secwatch is blind: a source has not completed a read within its down_after (see /healthz and the log line \"source cannot read\")"},
		{Name: prefix + deadLettersSuffix, MetricName: o.DeadLetters, Statistic: "Maximum", EvaluationPeriods: 1,
			Description: "secwatch holds alerts it could not deliver (dead letters): secwatch outbox list --dead"},
		{Name: prefix + deliveryFailuresSuffix, MetricName: o.DeliveryFailures, Statistic: "Sum", EvaluationPeriods: 3,
			Description: "secwatch has failed to deliver alerts in 3 periods in a row (a notifier is down or refusing)"},
	} {
		a.Namespace, a.Period = o.Namespace, seconds(max(o.Period, time.Minute))
		a.Threshold, a.Comparison, a.TreatMissingData = 0, greaterThan, notBreaching
		out = append(out, builtin(a, s))
	}
	return out
}

// Dimension is one metric dimension.
type Dimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Filter is a log metric filter: every event of LogGroup matching Pattern
// adds Value to Namespace/MetricName.
type Filter struct {
	Name       string `json:"name"`
	LogGroup   string `json:"log_group"`
	Pattern    string `json:"pattern"`
	Namespace  string `json:"namespace"`
	MetricName string `json:"metric_name"`
	Value      string `json:"value"`
}

// Alarm is a metric alarm, reduced to the fields secwatch sets.
type Alarm struct {
	Name              string            `json:"name"`
	Description       string            `json:"description"`
	Namespace         string            `json:"namespace"`
	MetricName        string            `json:"metric_name"`
	Dimensions        []Dimension       `json:"dimensions,omitempty"`
	Statistic         string            `json:"statistic"`
	Period            int32             `json:"period_seconds"`
	EvaluationPeriods int32             `json:"evaluation_periods"`
	Threshold         float64           `json:"threshold"`
	Comparison        string            `json:"comparison"`
	TreatMissingData  string            `json:"treat_missing_data"`
	ActionsEnabled    bool              `json:"actions_enabled"`
	Actions           []string          `json:"alarm_actions"`
	Tags              map[string]string `json:"tags,omitempty"`
}

// Resource is what secwatch wants for one rule (or built-in alarm): an
// alarm, with the metric filter that feeds it for rules.
type Resource struct {
	Rule   string  // rule id; "" for the heartbeat and lag alarms
	Filter *Filter // nil for the built-in alarms
	Alarm  Alarm
	// Notes say where the alarm differs from the rule: the aggregate of a
	// grouped rule, a window rounded to an allowed period.
	Notes []string
}

// Desired returns the resources for every rule with an alarm block and for
// the built-in alarms, sorted by alarm name. A rule that cannot become an
// alarm (a condition no filter pattern expresses, a kind CloudWatch cannot
// count, no log group) is an error naming it; every such problem is
// returned, and the resources of the other rules with them.
func Desired(rs []*rules.Rule, s Settings) ([]Resource, []error) {
	ns := cmp.Or(s.Namespace, "secwatch")
	var out []Resource
	var errs []error
	for _, r := range rs {
		if r.Alarm == nil {
			continue
		}
		res, err := ruleResource(r, s, ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, res)
	}
	if h := s.Heartbeat; h != nil {
		period := max(h.Period, time.Minute)
		out = append(out, builtin(Alarm{
			Name:              namePrefix(s.NamePrefix) + heartbeatSuffix,
			Description:       "secwatch is not running: no heartbeat for " + rules.FormatDuration(h.MissingAfter) + " (missing data is breaching)",
			Namespace:         h.Namespace,
			MetricName:        h.MetricName,
			Statistic:         "Sum",
			Period:            seconds(period),
			EvaluationPeriods: int32(max(h.MissingAfter/period, 1)),
			Threshold:         1,
			Comparison:        lessThan,
			TreatMissingData:  breaching,
		}, s))
	}
	if l := s.Lag; l != nil {
		out = append(out, builtin(Alarm{
			Name:              namePrefix(s.NamePrefix) + lagSuffix,
			Description:       "secwatch reads CloudWatch Logs more than " + rules.FormatDuration(l.Threshold) + " behind",
			Namespace:         l.Namespace,
			MetricName:        l.MetricName,
			Statistic:         "Maximum",
			Period:            seconds(max(l.Period, time.Minute)),
			EvaluationPeriods: 3,
			Threshold:         l.Threshold.Seconds(),
			Comparison:        greaterThan,
			// A silent daemon is the heartbeat's business.
			TreatMissingData: notBreaching,
		}, s))
	}
	if o := s.Operator; o != nil {
		out = append(out, o.alarms(s)...)
	}
	// Two rules must not share a name: "secwatch-heartbeat" is taken.
	seen := map[string]string{}
	kept := out[:0]
	for _, res := range out {
		if other, dup := seen[res.Alarm.Name]; dup {
			errs = append(errs, fmt.Errorf("rule %q: alarm name %s is already used by %s", res.Rule, res.Alarm.Name, other))
			continue
		}
		seen[res.Alarm.Name] = cmp.Or(res.Rule, "the built-in alarm")
		kept = append(kept, res)
	}
	out = kept
	slices.SortFunc(out, func(a, b Resource) int { return cmp.Compare(a.Alarm.Name, b.Alarm.Name) })
	return out, errs
}

func builtin(a Alarm, s Settings) Resource {
	a.ActionsEnabled = true
	a.Actions = actions(s)
	a.Tags = baseTags(s)
	a.Tags[TagHash] = hash(nil, &a)
	return Resource{Alarm: a}
}

// baseTags are the tags every alarm of s carries, before its rule and hash.
func baseTags(s Settings) map[string]string {
	return map[string]string{TagManaged: owner(s.Owner), TagPrefix: cmp.Or(s.NamePrefix, DefaultNamePrefix)}
}

func actions(s Settings) []string {
	if s.TopicARN == "" {
		return nil
	}
	return []string{s.TopicARN}
}

// ruleResource builds the filter and alarm of one rule.
func ruleResource(r *rules.Rule, s Settings, ns string) (Resource, error) {
	name := namePrefix(s.NamePrefix) + r.ID
	fail := func(format string, args ...any) (Resource, error) {
		return Resource{}, fmt.Errorf("%s:%d:%d: rule %q: alarm: %s", r.File, r.Line, r.Col, r.ID, fmt.Sprintf(format, args...))
	}
	if len(name) > 255 {
		return fail("the alarm name %q is longer than CloudWatch's 255 characters", name)
	}
	var res Resource
	res.Rule = r.ID
	a := Alarm{
		Name:           name,
		Description:    description(r),
		Statistic:      "Sum",
		ActionsEnabled: true,
		Actions:        actions(s),
	}
	var window time.Duration
	switch {
	case r.Kind == rules.KindSequence:
		return fail("sequence rules cannot be alarmed in CloudWatch: a metric alarm counts events, it cannot see their order")
	case r.Distinct != "":
		return fail("distinct rules cannot be alarmed in CloudWatch: a metric filter counts events, not distinct values of %q (an event count would be a broader alarm)", r.Distinct)
	case r.Kind == rules.KindAbsent:
		// Fires when a period passes without one matching event. A
		// period is a fixed bucket, so the absence is noticed between one
		// and two periods after the last event; rounding down keeps that
		// as close to the rule as allowed.
		p := (r.Absent / time.Minute) * time.Minute
		window = max(p, time.Minute)
		a.Threshold, a.Comparison, a.TreatMissingData = 1, lessThan, breaching
		if window != r.Absent {
			res.Notes = append(res.Notes, fmt.Sprintf("absent %s is alarmed over a period of %s (CloudWatch alarm periods on metric-filter metrics are whole minutes)", rules.FormatDuration(r.Absent), rules.FormatDuration(window)))
		}
	default:
		// A period is a fixed bucket, not a sliding window; rounding a
		// window up to the next allowed period counts at least the events
		// the rule counts, so the backstop errs towards firing.
		p := (r.Window + time.Minute - 1) / time.Minute * time.Minute
		window = p
		a.Threshold, a.Comparison, a.TreatMissingData = float64(r.Threshold), greaterThan, notBreaching
		if window != r.Window {
			res.Notes = append(res.Notes, fmt.Sprintf("window %s is alarmed over a period of %s (CloudWatch allows 10s and 30s only for high-resolution metrics, which metric filters do not publish; other periods are whole minutes)", rules.FormatDuration(r.Window), rules.FormatDuration(window)))
		}
	}
	a.Period, a.EvaluationPeriods = seconds(window), 1
	if len(r.GroupBy) > 0 {
		how := "it fires whenever the rule would, and also when many keys together cross the threshold"
		if r.Kind == rules.KindAbsent {
			how = "it fires only when every key is silent"
		}
		res.Notes = append(res.Notes, fmt.Sprintf("aggregate alarm: the rule counts per %s, the alarm counts all of them together (CloudWatch cannot alarm per key without one metric per key, unbounded cardinality); %s", strings.Join(r.GroupBy, ", "), how))
	}
	group := cmp.Or(r.Alarm.LogGroup, s.LogGroup)
	if group == "" {
		return fail("log_group: required (set it in the rule, or alarms.log_group in the config)")
	}
	pat, err := compileFor(r, group, s.formatOf(group))
	if err != nil {
		var pe *pattern.Error
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s:%d:%d: %w", r.File, r.Line, r.Col, err)
		}
		return Resource{}, err
	}
	if len(pat) > 1024 {
		return fail("filter pattern is %d characters, CloudWatch allows 1024", len(pat))
	}
	f := &Filter{
		Name:       name,
		LogGroup:   group,
		Pattern:    pat,
		Namespace:  cmp.Or(r.Alarm.Namespace, ns),
		MetricName: cmp.Or(r.Alarm.MetricName, r.ID),
		Value:      "1",
	}
	a.Namespace, a.MetricName = f.Namespace, f.MetricName
	a.Tags = baseTags(s)
	a.Tags[TagRule] = r.ID
	a.Tags[TagHash] = hash(f, &a)
	res.Filter, res.Alarm = f, a
	return res, nil
}

func description(r *rules.Rule) string {
	d := "secwatch rule " + r.ID
	if r.Title != "" {
		d += ": " + r.Title
	}
	if len(d) > 1024 {
		d = d[:1024]
	}
	return d
}

func seconds(d time.Duration) int32 { return int32(d / time.Second) }

// hash digests everything secwatch sets on the filter and the alarm except
// the hash itself: a resource whose fields differ from desired but whose
// hash tag matches was changed outside secwatch.
func hash(f *Filter, a *Alarm) string {
	h := sha256.New()
	w := func(k, v string) { fmt.Fprintf(h, "%s=%q\n", k, v) }
	if f != nil {
		w("filter", f.LogGroup+"\x00"+f.Pattern+"\x00"+f.Namespace+"\x00"+f.MetricName+"\x00"+f.Value)
	}
	w("description", a.Description)
	w("metric", a.Namespace+"\x00"+a.MetricName)
	for _, d := range a.Dimensions {
		w("dimension", d.Name+"\x00"+d.Value)
	}
	w("statistic", a.Statistic)
	w("period", strconv.Itoa(int(a.Period)))
	w("evaluation_periods", strconv.Itoa(int(a.EvaluationPeriods)))
	w("threshold", strconv.FormatFloat(a.Threshold, 'g', -1, 64))
	w("comparison", a.Comparison)
	w("missing", a.TreatMissingData)
	w("actions", strings.Join(a.Actions, ","))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
