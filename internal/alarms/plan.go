package alarms

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Actions of a Change.
const (
	Create = "create"
	Update = "update"
	Delete = "delete"
)

// Kinds of resource.
const (
	KindFilter = "metric filter"
	KindAlarm  = "alarm"
)

// Reconciler compares the desired resources with what exists and makes
// them so. CloudWatch and Logs are the SDK clients of the alarms' region
// (cmd builds them).
type Reconciler struct {
	CloudWatch metricsAPI
	Logs       filtersAPI
	// Prune deletes secwatch-owned resources that no rule wants any more;
	// without it they are listed as orphans and left alone.
	Prune bool
	// Owner is the secwatch:managed tag value of the alarms this
	// Reconciler owns ("" means "true"); it must be Settings.Owner.
	// Alarms with another value belong to another deployment and are
	// never changed.
	Owner string
	// NamePrefix is Settings.NamePrefix: only resources named
	// <NamePrefix>-* and tagged with it are this Reconciler's.
	NamePrefix string
}

// Plan is the difference between what secwatch wants and what exists.
type Plan struct {
	Changes []Change `json:"changes"`
	// Unchanged names the resources that are already as wanted.
	Unchanged []string `json:"unchanged"`
	// Orphans are secwatch-owned resources no rule wants, left alone
	// without Prune.
	Orphans []Change `json:"orphans"`
	// Warnings are things a person should look at that the plan does not
	// change: a metric filter named secwatch-* without its alarm, or a
	// rule's notes.
	Warnings []string `json:"warnings"`
}

// Change is one API call's worth of change to one resource.
type Change struct {
	Action   string        `json:"action"` // Create, Update, Delete
	Kind     string        `json:"kind"`   // KindFilter, KindAlarm
	Name     string        `json:"name"`
	LogGroup string        `json:"log_group,omitempty"` // filters
	Rule     string        `json:"rule,omitempty"`
	Fields   []FieldChange `json:"fields,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Notes    []string      `json:"notes,omitempty"`

	filter   *Filter
	alarm    *Alarm
	arn      string
	tagsOnly bool // an update that only re-tags
}

// FieldChange is one field's old and new value ("" when absent).
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// Counts returns the number of creates, updates and deletes.
func (p *Plan) Counts() (create, update, del int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			create++
		case Update:
			update++
		case Delete:
			del++
		}
	}
	return
}

// ConflictError reports desired resources whose names are taken by
// alarms secwatch does not manage; Plan refuses to touch them.
type ConflictError struct{ Names []string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("alarms exist with secwatch's names but are not managed by this configuration (no %s tag with its owner), refusing to change them: %s", TagManaged, strings.Join(e.Names, ", "))
}

// Plan reads what exists and compares it with want (from Desired).
func (r *Reconciler) Plan(ctx context.Context, want []Resource) (*Plan, error) {
	cur, err := r.readCurrent(ctx)
	if err != nil {
		return nil, err
	}
	return diff(want, cur, r.Prune)
}

// diff compares want with cur.
func diff(want []Resource, cur *current, prune bool) (*Plan, error) {
	p := &Plan{Changes: []Change{}, Unchanged: []string{}, Orphans: []Change{}, Warnings: []string{}}
	var conflicts []string
	wanted := map[string]bool{}
	filtersByName := map[string][]Filter{}
	for _, f := range cur.filters {
		filtersByName[f.Name] = append(filtersByName[f.Name], f)
	}
	for _, res := range want {
		name := res.Alarm.Name
		wanted[name] = true
		la := cur.alarms[name]
		if la != nil && !la.Managed {
			conflicts = append(conflicts, name)
			continue
		}
		if f := res.Filter; f != nil {
			var same *Filter
			for _, old := range filtersByName[name] {
				if old.LogGroup == f.LogGroup {
					same = &old
					continue
				}
				// The rule's log group changed: the old filter would
				// keep feeding the same metric.
				p.Changes = append(p.Changes, Change{Action: Delete, Kind: KindFilter, Name: name, LogGroup: old.LogGroup, Rule: res.Rule,
					Reason: "the rule's metric filter moves to " + f.LogGroup, filter: &old})
			}
			switch fc := filterFields(same, f); {
			case same == nil:
				p.Changes = append(p.Changes, Change{Action: Create, Kind: KindFilter, Name: name, LogGroup: f.LogGroup, Rule: res.Rule, Fields: fc, filter: f})
			case len(fc) > 0:
				p.Changes = append(p.Changes, Change{Action: Update, Kind: KindFilter, Name: name, LogGroup: f.LogGroup, Rule: res.Rule, Fields: fc, filter: f})
			default:
				p.Unchanged = append(p.Unchanged, "metric filter "+name)
			}
		}
		a := res.Alarm
		var old *Alarm
		if la != nil {
			old = &la.Alarm
		}
		fc := alarmFields(old, &a)
		switch {
		case la == nil:
			p.Changes = append(p.Changes, Change{Action: Create, Kind: KindAlarm, Name: name, Rule: res.Rule, Fields: fc, Notes: res.Notes, alarm: &a})
		case len(fc) > 0 || len(la.Unsupported) > 0:
			for _, u := range la.Unsupported {
				fc = append(fc, FieldChange{Field: "other", Old: u, New: "removed"})
			}
			c := Change{Action: Update, Kind: KindAlarm, Name: name, Rule: res.Rule, Fields: fc, Notes: res.Notes, alarm: &a, arn: la.ARN}
			c.tagsOnly = !slices.ContainsFunc(fc, func(f FieldChange) bool { return !strings.HasPrefix(f.Field, "tag ") })
			if la.Tags[TagHash] == a.Tags[TagHash] && !c.tagsOnly {
				c.Reason = "changed outside secwatch since it was applied"
			}
			p.Changes = append(p.Changes, c)
		default:
			p.Unchanged = append(p.Unchanged, "alarm "+name)
			for _, n := range res.Notes {
				p.Warnings = append(p.Warnings, name+": "+n)
			}
		}
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Names: conflicts}
	}
	// What exists and is not wanted.
	for _, name := range slices.Sorted(maps.Keys(cur.alarms)) {
		la := cur.alarms[name]
		if wanted[name] || !la.Managed {
			continue
		}
		rule := la.Tags[TagRule]
		reason := "no rule with id " + strconv.Quote(rule) + " has an alarm block any more"
		if rule == "" {
			reason = "the built-in alarm is no longer configured"
		}
		var gone []Change
		for _, f := range filtersByName[name] {
			gone = append(gone, Change{Action: Delete, Kind: KindFilter, Name: name, LogGroup: f.LogGroup, Rule: rule, Reason: reason, filter: &f})
		}
		gone = append(gone, Change{Action: Delete, Kind: KindAlarm, Name: name, Rule: rule, Reason: reason, alarm: &la.Alarm})
		if prune {
			p.Changes = append(p.Changes, gone...)
		} else {
			p.Orphans = append(p.Orphans, gone...)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(filtersByName)) {
		if wanted[name] || cur.alarms[name] != nil {
			// Ours (handled above), or another deployment's: its
			// alarm of the same name says whose.
			continue
		}
		for _, f := range filtersByName[name] {
			p.Warnings = append(p.Warnings, fmt.Sprintf("metric filter %s on %s has secwatch's name but no managed alarm: left alone (metric filters carry no tags; delete it by hand if it is secwatch's)", name, f.LogGroup))
		}
	}
	sortChanges(p.Changes)
	sortChanges(p.Orphans)
	return p, nil
}

func filterFields(old, f *Filter) []FieldChange {
	var o Filter
	if old != nil {
		o = *old
	}
	var out []FieldChange
	add := func(field, a, b string) {
		if a != b {
			out = append(out, FieldChange{Field: field, Old: a, New: b})
		}
	}
	add("pattern", o.Pattern, f.Pattern)
	add("metric", metricID(o.Namespace, o.MetricName), metricID(f.Namespace, f.MetricName))
	add("value", o.Value, f.Value)
	return out
}

func metricID(ns, name string) string {
	if ns == "" && name == "" {
		return ""
	}
	return ns + "/" + name
}

// alarmFields lists the fields of a that differ from old (nil: all of
// them, for a create).
func alarmFields(old, a *Alarm) []FieldChange {
	var o Alarm
	if old != nil {
		o = *old
	}
	var out []FieldChange
	add := func(field, x, y string) {
		if x != y || old == nil && y != "" {
			if old == nil {
				x = ""
			}
			out = append(out, FieldChange{Field: field, Old: x, New: y})
		}
	}
	add("description", o.Description, a.Description)
	add("metric", metricID(o.Namespace, o.MetricName), metricID(a.Namespace, a.MetricName))
	add("dimensions", dims(o.Dimensions), dims(a.Dimensions))
	add("statistic", o.Statistic, a.Statistic)
	add("period", secs(o.Period), secs(a.Period))
	add("evaluation_periods", strconv.Itoa(int(o.EvaluationPeriods)), strconv.Itoa(int(a.EvaluationPeriods)))
	add("comparison", o.Comparison, a.Comparison)
	add("threshold", strconv.FormatFloat(o.Threshold, 'g', -1, 64), strconv.FormatFloat(a.Threshold, 'g', -1, 64))
	add("treat_missing_data", o.TreatMissingData, a.TreatMissingData)
	add("actions_enabled", strconv.FormatBool(o.ActionsEnabled), strconv.FormatBool(a.ActionsEnabled))
	add("alarm_actions", list(o.Actions), list(a.Actions))
	for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
		add("tag "+k, o.Tags[k], a.Tags[k])
	}
	return out
}

func secs(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n)) + "s"
}

func dims(ds []Dimension) string {
	if len(ds) == 0 {
		return "none"
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Name + "=" + d.Value
	}
	slices.Sort(s)
	return "{" + strings.Join(s, ", ") + "}"
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// sortChanges puts filters before their alarms for creates and updates,
// so that an alarm never watches a metric nothing feeds, and filters
// before alarms for deletes too, so that a failed prune leaves the alarm
// (and its tag, by which the next prune finds the filter).
func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)))
	})
}

func kindOrder(k string) int {
	if k == KindFilter {
		return 0
	}
	return 1
}
