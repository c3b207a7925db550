package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/match"
)

// notifiers builds every notifier the configuration names besides stdout
// (which the daemon adds), each wrapped in its routing matchers, and
// returns the Alertmanager notifiers apart as well: their re-posting loop
// (Alertmanager.Run) runs beside the daemon, which keeps their active
// alerts with the state. Secrets are read here, once;
// errors name where a secret was looked for, never its value.
func notifiers(ctx context.Context, cfg *config.Config, log zerolog.Logger) ([]alerting.Notifier, []*alerting.Alertmanager, error) {
	var out []alerting.Notifier
	var ams []*alerting.Alertmanager
	if n, err := snsNotifier(ctx, cfg.Alerts.SNS, cfg.AWS, log); err != nil {
		return nil, nil, err
	} else if n != nil {
		routed, err := route(n, cfg.Alerts.SNS.Match)
		if err != nil {
			return nil, nil, fmt.Errorf("alerts.sns.match: %w", err)
		}
		out = append(out, routed)
	}
	for _, nc := range cfg.Alerts.Notifiers {
		n, err := httpNotifier(nc, log)
		if err != nil {
			return nil, nil, fmt.Errorf("notifier %s: %w", nc.Name, err)
		}
		if am, ok := n.(*alerting.Alertmanager); ok {
			ams = append(ams, am)
		}
		routed, err := route(n, nc.Match)
		if err != nil {
			return nil, nil, fmt.Errorf("notifier %s: match: %w", nc.Name, err)
		}
		out = append(out, routed)
	}
	return out, ams, nil
}

// route wraps n in its matchers, when it has any.
func route(n alerting.Notifier, list []string) (alerting.Notifier, error) {
	if len(list) == 0 {
		return n, nil
	}
	ms, err := match.ParseAll(list)
	if err != nil {
		return nil, err
	}
	return &alerting.Routed{Notifier: n, Match: ms}, nil
}

// httpNotifier builds one entry of alerts.notifiers.
func httpNotifier(nc config.Notifier, log zerolog.Logger) (alerting.Notifier, error) {
	client := &http.Client{Timeout: nc.Timeout}
	url, err := nc.URL.Resolve(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	switch nc.Type {
	case config.NotifierWebhook:
		w := &alerting.Webhook{ID: nc.Name, Client: client, URL: url, Header: http.Header{}}
		secret, err := nc.Secret.Resolve(os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("secret: %w", err)
		}
		w.Secret = []byte(secret)
		for k, v := range nc.Headers {
			w.Header.Set(k, v)
		}
		if nc.Template != "" {
			if w.Template, err = alerting.ParseWebhookTemplate(nc.Template); err != nil {
				return nil, fmt.Errorf("template: %w", err)
			}
		}
		return w, nil
	case config.NotifierSlack:
		return &alerting.Slack{ID: nc.Name, Client: client, URL: url}, nil
	case config.NotifierPagerDuty:
		key, err := nc.RoutingKey.Resolve(os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("routing key: %w", err)
		}
		return &alerting.PagerDuty{ID: nc.Name, Client: client, URL: url, RoutingKey: key}, nil
	case config.NotifierAlertmanager:
		return &alerting.Alertmanager{
			ID: nc.Name, Client: client, URL: url, RepostInterval: nc.RepostInterval, ActiveFor: nc.ActiveFor,
			Log: log.With().Str("component", "alertmanager").Str("notifier", nc.Name).Logger(),
		}, nil
	}
	return nil, fmt.Errorf("unknown type %q", nc.Type)
}
