package testutil

import (
	"bufio"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	addrRe     = regexp.MustCompile(`"addr":"([0-9.:]+)"`)
	httpClient = &http.Client{Timeout: 5 * time.Second}
)

// Metric reads one series (name and labels as rendered, e.g.
// `secwatch_rule_matched_total{rule="x"}`) from the /metrics of the daemon
// whose JSON log is log: the listener's address is in it. It returns -1
// while the value is not available (no address logged yet, no answer, no
// such series).
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
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
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
