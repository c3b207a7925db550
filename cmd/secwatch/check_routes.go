package main

import (
	"fmt"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/match"
)

// unroutedSelfAlerts names the self-alert rules (secwatch-source-down and
// the like) that no enabled notifier of cfg takes with its matchers: those
// alerts would reach nobody.
func unroutedSelfAlerts(cfg *config.Config) []string {
	var routes [][]string // each enabled notifier's matchers
	if cfg.Alerts.Stdout.Enabled {
		routes = append(routes, nil)
	}
	if cfg.Alerts.SNS.TopicARN != "" {
		routes = append(routes, cfg.Alerts.SNS.Match)
	}
	for _, n := range cfg.Alerts.Notifiers {
		routes = append(routes, n.Match)
	}
	var out []string
	for _, doc := range daemon.SelfAlertExamples(time.Now()) {
		taken := false
		for _, r := range routes {
			ms, err := match.ParseAll(r)
			if err == nil && alerting.Matches(ms, &doc) {
				taken = true
				break
			}
		}
		if !taken {
			out = append(out, fmt.Sprintf("no notifier's match takes %s alerts (severity high, label secwatch=\"self\"): add a notifier with match: ['secwatch=\"self\"']", doc.Rule))
		}
	}
	return out
}
