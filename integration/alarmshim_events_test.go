package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
)

// The alarm shim's metric filters at work: PutLogEvents feeds them, and
// FilterLogEvents applies a pattern as CloudWatch would.

type logEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// putLogEvents forwards the events to kumo, then publishes one datum per
// event each metric filter of the group matches and evaluates the alarms
// on the metrics that got data.
func (s *alarmShim) putLogEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	var in struct {
		LogGroupName string     `json:"logGroupName"`
		LogEvents    []logEvent `json:"logEvents"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	rec := s.forward(r, body)
	if rec.Code != http.StatusOK {
		copyAnswer(w, rec, rec.Body.Bytes())
		return
	}
	s.mu.Lock()
	filters := make([]metricFilter, 0, len(s.filts[in.LogGroupName]))
	for _, f := range s.filts[in.LogGroupName] {
		filters = append(filters, f)
	}
	s.mu.Unlock()
	touched := map[string]bool{}
	for _, f := range filters {
		p, err := pattern.Parse(f.FilterPattern) // valid: PutMetricFilter checked it
		if err != nil {
			logsError(w, "ServiceUnavailableException", err.Error())
			return
		}
		t := f.MetricTransformations[0]
		ns, name := t["metricNamespace"].(string), t["metricName"].(string)
		value, err := strconv.ParseFloat(t["metricValue"].(string), 64)
		if err != nil {
			logsError(w, "ServiceUnavailableException", "metricValue: "+err.Error())
			return
		}
		var data []cwtypes.MetricDatum
		for _, e := range in.LogEvents {
			if !p.Match([]byte(e.Message)) {
				continue
			}
			at := time.UnixMilli(e.Timestamp).UTC()
			// Without a timestamp: kumo wants one as a string and rejects
			// the SDK's CBOR time. The event's time stays in s.points,
			// which evaluate reads.
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String(name), Value: aws.Float64(value), Unit: cwtypes.StandardUnitCount})
			key := ns + "\x00" + name
			s.points[key] = append(s.points[key], datum{at, value})
			touched[key] = true
		}
		for batch := range slices.Chunk(data, 1000) {
			if _, err := s.cw.PutMetricData(r.Context(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: batch}); err != nil {
				logsError(w, "ServiceUnavailableException", "put metric data: "+err.Error())
				return
			}
		}
	}
	if len(touched) > 0 {
		if err := s.evaluate(r, touched); err != nil {
			logsError(w, "ServiceUnavailableException", "evaluate alarms: "+err.Error())
			return
		}
	}
	copyAnswer(w, rec, rec.Body.Bytes())
}

// evaluate sets the state of every Sum alarm without dimensions on a
// touched metric from the data points in the shim: the newest data point's
// period and the EvaluationPeriods-1 periods before it (periods aligned
// to the epoch, as CloudWatch aligns them), ALARM when every one of them
// breaches the threshold, else OK. It stands in for CloudWatch's
// evaluation every period, with the newest datum as "now"; missing data in
// an evaluated period counts as zero (notBreaching, secwatch's setting).
func (s *alarmShim) evaluate(r *http.Request, touched map[string]bool) error {
	out, err := s.cw.DescribeAlarms(r.Context(), &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(1 << 30)})
	if err != nil {
		return err
	}
	for _, a := range out.MetricAlarms {
		key := aws.ToString(a.Namespace) + "\x00" + aws.ToString(a.MetricName)
		if !touched[key] || len(a.Dimensions) > 0 || a.Statistic != cwtypes.StatisticSum {
			continue
		}
		pts := s.points[key]
		period := time.Duration(aws.ToInt32(a.Period)) * time.Second
		newest := slices.MaxFunc(pts, func(x, y datum) int { return x.at.Compare(y.at) }).at.Truncate(period)
		breaching, sums := true, []float64{}
		for i := range aws.ToInt32(a.EvaluationPeriods) {
			from := newest.Add(-time.Duration(i) * period)
			sum := 0.0
			for _, p := range pts {
				if !p.at.Before(from) && p.at.Before(from.Add(period)) {
					sum += p.value
				}
			}
			sums = append(sums, sum)
			breaching = breaching && breaches(a.ComparisonOperator, sum, aws.ToFloat64(a.Threshold))
		}
		state, reason := cwtypes.StateValueOk, fmt.Sprintf("shim: sums %v per %s from %s", sums, period, newest.Format(time.RFC3339))
		if breaching {
			state = cwtypes.StateValueAlarm
		}
		if _, err := s.cw.SetAlarmState(r.Context(), &cloudwatch.SetAlarmStateInput{AlarmName: a.AlarmName, StateValue: state, StateReason: aws.String(reason)}); err != nil {
			return err
		}
	}
	return nil
}

func breaches(op cwtypes.ComparisonOperator, v, threshold float64) bool {
	switch op {
	case cwtypes.ComparisonOperatorGreaterThanThreshold:
		return v > threshold
	case cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold:
		return v >= threshold
	case cwtypes.ComparisonOperatorLessThanThreshold:
		return v < threshold
	case cwtypes.ComparisonOperatorLessThanOrEqualToThreshold:
		return v <= threshold
	}
	return false
}

// filterLogEvents applies a filter pattern, which kumo would take for a
// substring: it asks kumo for every event of the request's time range and
// streams, and keeps those the pattern matches, up to the limit. No
// pattern: kumo answers.
func (s *alarmShim) filterLogEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	req := map[string]any{}
	if err := json.Unmarshal(body, &req); err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	src, _ := req["filterPattern"].(string)
	if src == "" {
		rec := s.forward(r, body)
		copyAnswer(w, rec, rec.Body.Bytes())
		return
	}
	p, err := pattern.Parse(src)
	if err != nil {
		logsError(w, "InvalidParameterException", "Invalid filter pattern: "+err.Error())
		return
	}
	limit := 10_000
	if n, ok := req["limit"].(float64); ok && n > 0 {
		limit = min(int(n), limit)
	}
	delete(req, "filterPattern")
	delete(req, "nextToken") // one page holds every match
	req["limit"] = 10_000
	fwd, _ := json.Marshal(req)
	rec, resp, ok := s.forwardDecode(w, r, fwd, json.Unmarshal, func(err error) { logsError(w, "ServiceUnavailableException", err.Error()) })
	if !ok {
		return
	}
	all, _ := resp["events"].([]any)
	kept := []any{}
	for _, e := range all {
		if m, ok := e.(map[string]any); ok && len(kept) < limit {
			if msg, _ := m["message"].(string); p.Match([]byte(msg)) {
				kept = append(kept, m)
			}
		}
	}
	resp["events"] = kept
	out, err := json.Marshal(resp)
	if err != nil {
		logsError(w, "ServiceUnavailableException", err.Error())
		return
	}
	copyAnswer(w, rec, bytes.TrimSpace(out))
}
