package integration

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/fxamacker/cbor/v2"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
)

// alarmShim is an http.Handler in front of kumo that supplies what kumo
// v0.33.1 lacks for `secwatch alarms`, and forwards everything else:
//
//   - CloudWatch Logs metric filters (PutMetricFilter,
//     DescribeMetricFilters, DeleteMetricFilter), which kumo does not have,
//     kept in memory with AWS's validation: the log group must exist, one
//     metric transformation, the documented lengths, filterNamePrefix only
//     with logGroupName, pages of at most 50;
//   - CloudWatch PutMetricAlarm's TreatMissingData and Tags, which kumo
//     accepts and drops: the shim remembers TreatMissingData and returns it
//     from DescribeAlarms, and tags a new alarm through kumo's TagResource
//     (like AWS, tags given to PutMetricAlarm for an existing alarm are
//     ignored);
//   - DescribeAlarms pagination: kumo cuts the list at MaxRecords without
//     a NextToken; the shim asks kumo for everything and pages itself;
//   - gzip request bodies (the SDK compresses PutMetricData), which kumo
//     does not decompress: the shim decompresses them;
//   - filter patterns, which kumo ignores (its FilterLogEvents takes the
//     pattern for a substring): PutMetricFilter and FilterLogEvents reject
//     a pattern secwatch's parser (internal/alarms/pattern) rejects, and
//     FilterLogEvents returns the events the pattern matches;
//   - metric filters at work: every event of a PutLogEvents that a metric
//     filter of its group matches becomes one datum (the filter's value,
//     the event's timestamp) put to kumo, and every alarm on that metric is
//     evaluated (see evaluate) and set through kumo's SetAlarmState, which
//     kumo never does by itself.
//
// Like kumo, it keeps one state per process: see startAlarmShim.
type alarmShim struct {
	kumo  *httputil.ReverseProxy
	logs  *cloudwatchlogs.Client // straight to kumo
	cw    *cloudwatch.Client     // straight to kumo
	mu    sync.Mutex
	filts map[string]map[string]metricFilter // log group → filter name → filter
	tmd   map[string]string                  // alarm name → TreatMissingData
	// pmu serialises PutLogEvents: the data points of a metric and the
	// alarm states computed from them.
	pmu    sync.Mutex
	points map[string][]datum // namespace + "\x00" + metric name → data points put
}

// datum is one data point a metric filter published.
type datum struct {
	at    time.Time
	value float64
}

// metricFilter is the JSON shape of a CloudWatch Logs metric filter.
type metricFilter struct {
	FilterName            string           `json:"filterName"`
	FilterPattern         string           `json:"filterPattern"`
	LogGroupName          string           `json:"logGroupName"`
	CreationTime          int64            `json:"creationTime"`
	MetricTransformations []map[string]any `json:"metricTransformations"`
}

var shim struct {
	once sync.Once
	url  string
}

// startAlarmShim returns the endpoint of the process's one alarm shim in
// front of the emulator.
func startAlarmShim(t testing.TB) string {
	t.Helper()
	kumoURL := startEmulator(t)
	shim.once.Do(func() {
		u, _ := url.Parse(kumoURL)
		s := &alarmShim{
			kumo: httputil.NewSingleHostReverseProxy(u),
			logs: cloudwatchlogs.NewFromConfig(awsConfig(kumoURL)),
			// Uncompressed: kumo does not read gzip bodies.
			cw:     cloudwatch.NewFromConfig(awsConfig(kumoURL), func(o *cloudwatch.Options) { o.DisableRequestCompression = true }),
			filts:  map[string]map[string]metricFilter{},
			tmd:    map[string]string{},
			points: map[string][]datum{},
		}
		shim.url = httptest.NewServer(s).URL
	})
	return shim.url
}

const cwPath = "/service/GraniteServiceVersion20100801/operation/"

func (s *alarmShim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Encoding") == "gzip" {
		// The SDK gzips PutMetricData bodies; kumo reads them as they come.
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Content-Encoding")
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	logsOps := map[string]http.HandlerFunc{
		"PutMetricFilter":       s.putMetricFilter,
		"DescribeMetricFilters": s.describeMetricFilters,
		"DeleteMetricFilter":    s.deleteMetricFilter,
		"PutLogEvents":          s.putLogEvents,
		"FilterLogEvents":       s.filterLogEvents,
	}
	if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328."); ok && logsOps[op] != nil {
		logsOps[op](w, r)
		return
	}
	switch op, _ := strings.CutPrefix(r.URL.Path, cwPath); op {
	case "PutMetricAlarm":
		s.putMetricAlarm(w, r)
	case "DescribeAlarms":
		s.describeAlarms(w, r)
	case "DeleteAlarms":
		s.deleteAlarms(w, r)
	default:
		s.kumo.ServeHTTP(w, r)
	}
}

// --- CloudWatch Logs metric filters (JSON 1.1) ---

func logsError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func logsOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}

// groupExists asks kumo whether the log group exists.
func (s *alarmShim) groupExists(ctx context.Context, name string) (bool, error) {
	out, err := s.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	if err != nil {
		return false, err
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == name {
			return true, nil
		}
	}
	return false, nil
}

func (s *alarmShim) putMetricFilter(w http.ResponseWriter, r *http.Request) {
	var in metricFilter
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	switch {
	case in.FilterName == "" || len(in.FilterName) > 512 || strings.Contains(in.FilterName, ":") || strings.Contains(in.FilterName, "*"):
		logsError(w, "InvalidParameterException", "invalid filterName")
		return
	case len(in.FilterPattern) > 1024:
		logsError(w, "InvalidParameterException", "filterPattern longer than 1024")
		return
	case len(in.MetricTransformations) != 1:
		logsError(w, "InvalidParameterException", "exactly one metricTransformation is allowed")
		return
	}
	if _, err := pattern.Parse(in.FilterPattern); err != nil {
		logsError(w, "InvalidParameterException", "Invalid metric filter pattern: "+err.Error())
		return
	}
	t := in.MetricTransformations[0]
	for _, k := range []string{"metricName", "metricNamespace", "metricValue"} {
		if v, _ := t[k].(string); v == "" {
			logsError(w, "InvalidParameterException", k+" is required")
			return
		}
	}
	ok, err := s.groupExists(r.Context(), in.LogGroupName)
	if err != nil {
		logsError(w, "ServiceUnavailableException", err.Error())
		return
	}
	if !ok {
		logsError(w, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.filts[in.LogGroupName]
	if g == nil {
		g = map[string]metricFilter{}
		s.filts[in.LogGroupName] = g
	}
	if _, exists := g[in.FilterName]; !exists && len(g) >= 100 {
		logsError(w, "LimitExceededException", "at most 100 metric filters per log group")
		return
	}
	in.CreationTime = time.Now().UnixMilli()
	g[in.FilterName] = in
	logsOK(w, struct{}{})
}

func (s *alarmShim) describeMetricFilters(w http.ResponseWriter, r *http.Request) {
	var in struct {
		LogGroupName     string `json:"logGroupName"`
		FilterNamePrefix string `json:"filterNamePrefix"`
		MetricName       string `json:"metricName"`
		MetricNamespace  string `json:"metricNamespace"`
		Limit            int    `json:"limit"`
		NextToken        string `json:"nextToken"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	if (in.MetricName == "") != (in.MetricNamespace == "") {
		logsError(w, "InvalidParameterException", "metricName and metricNamespace must be given together")
		return
	}
	if in.Limit < 0 || in.Limit > 50 {
		logsError(w, "InvalidParameterException", "limit must be 1..50")
		return
	}
	if in.LogGroupName != "" {
		ok, err := s.groupExists(r.Context(), in.LogGroupName)
		if err != nil || !ok {
			logsError(w, "ResourceNotFoundException", "The specified log group does not exist.")
			return
		}
	}
	s.mu.Lock()
	var all []metricFilter
	for group, fs := range s.filts {
		if in.LogGroupName != "" && group != in.LogGroupName {
			continue
		}
		for _, f := range fs {
			if in.LogGroupName != "" && !strings.HasPrefix(f.FilterName, in.FilterNamePrefix) {
				continue
			}
			t := f.MetricTransformations[0]
			if in.MetricName != "" && (t["metricName"] != in.MetricName || t["metricNamespace"] != in.MetricNamespace) {
				continue
			}
			all = append(all, f)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b metricFilter) int {
		return cmp.Or(cmp.Compare(a.LogGroupName, b.LogGroupName), cmp.Compare(a.FilterName, b.FilterName))
	})
	from, _ := strconv.Atoi(in.NextToken)
	limit := cmp.Or(in.Limit, 50)
	out := map[string]any{"metricFilters": []metricFilter{}}
	if from < len(all) {
		to := min(from+limit, len(all))
		out["metricFilters"] = all[from:to]
		if to < len(all) {
			out["nextToken"] = strconv.Itoa(to)
		}
	}
	logsOK(w, out)
}

func (s *alarmShim) deleteMetricFilter(w http.ResponseWriter, r *http.Request) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		FilterName   string `json:"filterName"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		logsError(w, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.filts[in.LogGroupName][in.FilterName]; !ok {
		logsError(w, "ResourceNotFoundException", "The specified metric filter does not exist.")
		return
	}
	delete(s.filts[in.LogGroupName], in.FilterName)
	logsOK(w, struct{}{})
}

// --- CloudWatch alarms (RPC v2 CBOR) ---

var (
	cborDec, _ = cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil)), TimeTag: cbor.DecTagOptional}.DecMode()
	cborEnc, _ = cbor.EncOptions{Time: cbor.TimeUnixMicro, TimeTag: cbor.EncTagRequired}.EncMode()
)

// forward sends body to kumo in place of r's and returns the recorded
// answer.
func (s *alarmShim) forward(r *http.Request, body []byte) *httptest.ResponseRecorder {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.Header.Set("Content-Length", strconv.Itoa(len(body)))
	rec := httptest.NewRecorder()
	s.kumo.ServeHTTP(rec, r2)
	return rec
}

// forwardDecode forwards body to kumo and decodes its answer into a map.
// When kumo fails, its answer is copied to w; when the answer does not
// decode, fail writes the error; ok is false in both cases.
func (s *alarmShim) forwardDecode(w http.ResponseWriter, r *http.Request, body []byte, decode func([]byte, any) error, fail func(error)) (rec *httptest.ResponseRecorder, resp map[string]any, ok bool) {
	rec = s.forward(r, body)
	if rec.Code != http.StatusOK {
		copyAnswer(w, rec, rec.Body.Bytes())
		return rec, nil, false
	}
	resp = map[string]any{}
	if err := decode(rec.Body.Bytes(), &resp); err != nil {
		fail(err)
		return rec, nil, false
	}
	return rec, resp, true
}

func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	w.Write(body)
}

func (s *alarmShim) alarmARN(ctx context.Context, name string) (string, error) {
	out, err := s.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return "", err
	}
	for _, a := range out.MetricAlarms {
		if aws.ToString(a.AlarmName) == name {
			return aws.ToString(a.AlarmArn), nil
		}
	}
	return "", nil
}

func (s *alarmShim) putMetricAlarm(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in struct {
		AlarmName        string
		TreatMissingData string
		Tags             []struct{ Key, Value string }
	}
	if err := cborDec.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock() // one PutMetricAlarm at a time: the existence check and the put are one step
	defer s.mu.Unlock()
	arn, err := s.alarmARN(r.Context(), in.AlarmName)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	existed := arn != ""
	rec := s.forward(r, body)
	if rec.Code == http.StatusOK {
		if in.TreatMissingData == "" {
			delete(s.tmd, in.AlarmName)
		} else {
			s.tmd[in.AlarmName] = in.TreatMissingData
		}
		if !existed && len(in.Tags) > 0 {
			if arn, err = s.alarmARN(r.Context(), in.AlarmName); err == nil && arn != "" {
				var tags []cwtypes.Tag
				for _, t := range in.Tags {
					tags = append(tags, cwtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
				}
				_, err = s.cw.TagResource(r.Context(), &cloudwatch.TagResourceInput{ResourceARN: aws.String(arn), Tags: tags})
			}
			if err != nil {
				http.Error(w, fmt.Sprintf("tagging: %v", err), http.StatusInternalServerError)
				return
			}
		}
	}
	copyAnswer(w, rec, rec.Body.Bytes())
}

func (s *alarmShim) deleteAlarms(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in struct{ AlarmNames []string }
	if err := cborDec.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.forward(r, body)
	if rec.Code == http.StatusOK {
		for _, n := range in.AlarmNames {
			delete(s.tmd, n)
		}
	}
	copyAnswer(w, rec, rec.Body.Bytes())
}

func (s *alarmShim) describeAlarms(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := map[string]any{}
	if len(body) > 0 {
		if err := cborDec.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	pageSize := 50
	if n, ok := req["MaxRecords"].(uint64); ok && n > 0 {
		pageSize = int(n)
	}
	if pageSize > 100 {
		http.Error(w, "MaxRecords must be 1..100", http.StatusBadRequest)
		return
	}
	from := 0
	if tok, ok := req["NextToken"].(string); ok {
		from, _ = strconv.Atoi(tok)
	}
	delete(req, "NextToken")
	req["MaxRecords"] = 1 << 30
	fwd, _ := cborEnc.Marshal(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, resp, ok := s.forwardDecode(w, r, fwd, cborDec.Unmarshal, func(err error) { http.Error(w, err.Error(), http.StatusInternalServerError) })
	if !ok {
		return
	}
	all, _ := resp["MetricAlarms"].([]any)
	for _, a := range all {
		if m, ok := a.(map[string]any); ok {
			if v, ok := s.tmd[m["AlarmName"].(string)]; ok {
				m["TreatMissingData"] = v
			}
		}
	}
	page := []any{}
	delete(resp, "NextToken")
	if from < len(all) {
		to := min(from+pageSize, len(all))
		page = all[from:to]
		if to < len(all) {
			resp["NextToken"] = strconv.Itoa(to)
		}
	}
	resp["MetricAlarms"] = page
	out, err := cborEnc.Marshal(resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	copyAnswer(w, rec, out)
}
