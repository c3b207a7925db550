package pattern

import (
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

// Record is one recorded log line for Verify: the raw message as
// CloudWatch would see it and the event the rule side parsed from it (nil
// when the line could not be parsed, so the rule side does not match).
type Record struct {
	Line  int // 1-based position of the line in its file
	Raw   []byte
	Event *event.Event
}

// Disagreement is a record on which a rule's match and its pattern differ.
type Disagreement struct {
	Line         int
	RuleMatch    bool // the rule's match holds for the parsed event
	PatternMatch bool // the filter pattern matches the raw line
}

// Verify runs every record through r.Match and p and returns the records on
// which they disagree, in input order.
func Verify(r *rules.Rule, p *Pattern, recs []Record) []Disagreement {
	var out []Disagreement
	for i := range recs {
		rec := &recs[i]
		rm := rec.Event != nil && r.Match.Eval(rec.Event)
		pm := p.Match(rec.Raw)
		if rm != pm {
			out = append(out, Disagreement{Line: rec.Line, RuleMatch: rm, PatternMatch: pm})
		}
	}
	return out
}
