package testutil

import (
	"bufio"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	addrRe     = regexp.MustCompile(`"addr":"([0-9.:]+)"`)
	httpClient = &http.Client{Timeout: 5 * time.Second}
)

// Metric reads one series (name and labels, e.g.
// `secwatch_rule_matched_total{rule="x"}`, in any label order) from the
// /metrics of the daemon whose JSON log is log: the listener's address is
// in it. It returns -1 while the value is not available (no address logged
// yet, no answer, no such series), and whole values only.
func Metric(log, series string) int64 {
	m := addrRe.FindStringSubmatch(log)
	if m == nil {
		return -1
	}
	resp, err := httpClient.Get("http://" + m[1] + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	series = SortLabels(series)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || SortLabels(line[:i]) != series {
			continue
		}
		// Large values are written as floats (1e+06).
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil || v != float64(int64(v)) {
			return -1
		}
		return int64(v)
	}
	return -1
}

// SortLabels returns series (`name{b="1",a="2"}`) with its labels sorted
// by name, the order in which the exposition writes them.
func SortLabels(series string) string {
	name, rest, ok := strings.Cut(series, "{")
	if !ok || !strings.HasSuffix(rest, "}") {
		return series
	}
	var pairs []string
	start, quoted := 0, false
	body := rest[:len(rest)-1]
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			pairs = append(pairs, body[start:i])
			start = i + 1
		}
	}
	if start < len(body) {
		pairs = append(pairs, body[start:])
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Metrics returns every secwatch_ series of that daemon's /metrics, one per
// line, for a failing test's message ("" while unavailable).
func Metrics(log string) string {
	m := addrRe.FindStringSubmatch(log)
	if m == nil {
		return ""
	}
	resp, err := httpClient.Get("http://" + m[1] + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "secwatch_") {
			b.WriteString(sc.Text() + "\n")
		}
	}
	return b.String()
}
