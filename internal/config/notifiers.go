package config

import (
	"fmt"
	"github.com/secwatch/secwatch/internal/probe"
	"net/url"
	"os"
	"regexp"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/match"
)

// Notifier types of alerts.notifiers (docs/notifiers.md).
const (
	NotifierWebhook      = "webhook"
	NotifierSlack        = "slack"
	NotifierPagerDuty    = "pagerduty"
	NotifierAlertmanager = "alertmanager"
)

var notifierTypes = []string{NotifierWebhook, NotifierSlack, NotifierPagerDuty, NotifierAlertmanager}

// Defaults of the notifier keys.
const (
	DefaultNotifierTimeout = 10 * time.Second
	DefaultRepostInterval  = time.Minute
	DefaultActiveFor       = 15 * time.Minute
)

// Notifier is one entry of alerts.notifiers. Keys that do not apply to its
// Type are zero. Secrets are held as where to find them, never as values.
type Notifier struct {
	Name    string        // unique, [a-z0-9][a-z0-9_-]*; default the type
	Type    string        // one of the Notifier* constants
	Match   []string      // Alertmanager matchers, all must match; known to parse
	Timeout time.Duration // per HTTP request; default 10s

	URL        Secret            // webhook, slack, alertmanager, pagerduty (optional)
	Secret     Secret            // webhook: HMAC-SHA256 key; zero: unsigned
	RoutingKey Secret            // pagerduty
	Headers    map[string]string // webhook
	Template   string            // webhook body; known to parse

	RepostInterval time.Duration // alertmanager; default 1m
	ActiveFor      time.Duration // alertmanager; default 15m
}

// Secret says where a secret is: in the file itself (Value, only for keys
// that allow it), in an environment variable (Env) or in a file (File, its
// content with surrounding white space trimmed). At most one is set.
type Secret struct {
	Value, Env, File string
}

// resolve makes the secret files relative to the config file's directory.
func (n *Notifier) resolve(abs func(string) string) {
	for _, s := range []*Secret{&n.URL, &n.Secret, &n.RoutingKey} {
		if s.File != "" {
			s.File = abs(s.File)
		}
	}
}

// IsZero reports whether no source is set.
func (s Secret) IsZero() bool { return s == Secret{} }

// Resolve reads the secret. Errors name the variable or file, never the
// value.
func (s Secret) Resolve(getenv func(string) (string, bool)) (string, error) {
	switch {
	case s.Env != "":
		v, ok := getenv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", err
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s is empty", s.File)
		}
		return v, nil
	}
	return s.Value, nil
}

var notifierKeys = []string{
	"name", "type", "match", "timeout", "url", "url_env", "url_file", "secret_env", "secret_file",
	"routing_key_env", "routing_key_file", "headers", "template", "repost_interval", "active_for",
}

// keysOf lists the keys each type accepts beyond name, type, match and
// timeout.
var keysOf = map[string][]string{
	NotifierWebhook:      {"url", "url_env", "url_file", "secret_env", "secret_file", "headers", "template"},
	NotifierSlack:        {"url_env", "url_file"},
	NotifierPagerDuty:    {"url", "routing_key_env", "routing_key_file"},
	NotifierAlertmanager: {"url", "repost_interval", "active_for"},
}

// notifiers decodes alerts.notifiers.
func (p *parser) notifiers(kv keyVal) []Notifier {
	if !p.Is(kv.val, yaml.SequenceNode, kv.path, "a list of notifiers") {
		return nil
	}
	var out []Notifier
	names := map[string]*yaml.Node{}
	for i, n := range kv.val.Content {
		path := fmt.Sprintf("%s[%d]", kv.path, i)
		nt, ok := p.notifier(n, path)
		if !ok {
			continue
		}
		if nt.Name == "stdout" || nt.Name == "sns" {
			p.errorf(p.valueOf(n, "name"), path+".name", "%q is the name of a built-in notifier", nt.Name)
		}
		if p.hasKey(n, "name") {
			p.uniqueName(names, n, path, nt.Name)
		} else if first, dup := names[nt.Name]; dup && nt.Name != "" {
			p.errorf(n, path+".name", "required: another %s notifier (at %s) already has the default name %q", nt.Type, p.pos(first), nt.Name)
		} else if nt.Name != "" {
			names[nt.Name] = n
		}
		out = append(out, nt)
	}
	return out
}

func (p *parser) notifier(n *yaml.Node, path string) (Notifier, bool) {
	if !p.Is(n, yaml.MappingNode, path, "a map") {
		return Notifier{}, false
	}
	nt := Notifier{Timeout: DefaultNotifierTimeout}
	has := map[string]keyVal{}
	for _, kv := range p.mapping(n, path, notifierKeys) {
		has[kv.name] = kv
		switch kv.name {
		case "name":
			nt.Name = p.name(kv)
		case "type":
			nt.Type, _ = p.oneOf(kv, notifierTypes)
		case "match":
			nt.Match = p.matchers(kv)
		case "timeout":
			nt.Timeout, _ = p.duration(kv, time.Second, 5*time.Minute)
		case "url":
			nt.URL.Value = p.httpURL(kv)
		case "url_env":
			nt.URL.Env = p.envName(kv)
		case "url_file":
			nt.URL.File = p.secretFile(kv)
		case "secret_env":
			nt.Secret.Env = p.envName(kv)
		case "secret_file":
			nt.Secret.File = p.secretFile(kv)
		case "routing_key_env":
			nt.RoutingKey.Env = p.envName(kv)
		case "routing_key_file":
			nt.RoutingKey.File = p.secretFile(kv)
		case "headers":
			nt.Headers = p.headers(kv)
		case "template":
			if s, ok := p.scalar(kv.val, kv.path, "a Go text/template"); ok {
				// The functions are checked by name here and supplied by
				// the webhook notifier.
				if _, err := template.New("body").Funcs(template.FuncMap{"json": func(any) string { return "" }}).Parse(s); err != nil {
					p.errorf(kv.val, kv.path, "%s", strings.TrimPrefix(err.Error(), "template: "))
				} else {
					nt.Template = s
				}
			}
		case "repost_interval":
			nt.RepostInterval, _ = p.duration(kv, time.Second, time.Hour)
		case "active_for":
			nt.ActiveFor, _ = p.duration(kv, time.Minute, 7*24*time.Hour)
		}
	}
	if _, ok := has["type"]; !ok {
		p.required(n, path+".type", "required: one of %s", strings.Join(notifierTypes, ", "))
		return nt, true
	}
	if nt.Type == "" {
		return nt, true
	}
	if nt.Name == "" && !p.hasKey(n, "name") {
		nt.Name = nt.Type
	}
	for _, k := range notifierKeys[4:] {
		if kv, ok := has[k]; ok && !contains(keysOf[nt.Type], k) {
			p.errorf(kv.key, kv.path, "does not apply to a %s notifier", nt.Type)
		}
	}
	p.oneSecret(n, has, path, "url", nt.Type, nt.Type != NotifierPagerDuty)
	p.oneSecret(n, has, path, "secret", nt.Type, false)
	p.oneSecret(n, has, path, "routing_key", nt.Type, nt.Type == NotifierPagerDuty)
	if nt.Type == NotifierAlertmanager {
		nt.RepostInterval = cmpOr(nt.RepostInterval, DefaultRepostInterval)
		nt.ActiveFor = cmpOr(nt.ActiveFor, DefaultActiveFor)
	}
	return nt, true
}

func cmpOr(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// oneSecret checks that at most one of key, key_env and key_file is given,
// and one when required.
func (p *parser) oneSecret(n *yaml.Node, has map[string]keyVal, path, key, typ string, required bool) {
	var given []keyVal
	for _, k := range []string{key, key + "_env", key + "_file"} {
		if kv, ok := has[k]; ok {
			given = append(given, kv)
		}
	}
	switch {
	case len(given) > 1:
		p.errorf(given[1].key, given[1].path, "give only one of %s, %s_env and %s_file", key, key, key)
	case len(given) == 0 && required:
		var alts []string
		for _, k := range []string{key, key + "_env", key + "_file"} {
			if contains(keysOf[typ], k) {
				alts = append(alts, k)
			}
		}
		p.required(n, path+"."+key, "required: one of %s", strings.Join(alts, ", "))
	}
}

// matchers decodes a list of Alertmanager matchers.
func (p *parser) matchers(kv keyVal) []string {
	return p.list(kv, func(s string) string {
		if _, err := match.Parse(s); err != nil {
			return err.Error()
		}
		return ""
	})
}

// httpURL parses an http or https URL given in the file.
func (p *parser) httpURL(kv keyVal) string {
	s, ok := p.scalar(kv.val, kv.path, "a URL")
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(kv.val, kv.path, "must be an http or https URL, got %s", p.got(kv.val))
		return ""
	}
	return s
}

func (p *parser) envName(kv keyVal) string {
	s, ok := p.scalar(kv.val, kv.path, "an environment variable name")
	if !ok {
		return ""
	}
	if err := probe.ValidateEnvName(s); err != nil {
		// Never quoted: it may be the secret itself.
		p.errorf(kv.val, kv.path, "%s", err)
		return ""
	}
	return s
}

func (p *parser) secretFile(kv keyVal) string {
	s, ok := p.scalar(kv.val, kv.path, "a path")
	if !ok {
		return ""
	}
	if msg := checkPath(s); msg != "" || s == "" {
		p.errorf(kv.val, kv.path, "%s, got %s", cmpOrStr(msg, "must not be empty"), p.got(kv.val))
		return ""
	}
	return s
}

func cmpOrStr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// headers decodes a map of HTTP header names to values.
func (p *parser) headers(kv keyVal) map[string]string {
	if !p.Is(kv.val, yaml.MappingNode, kv.path, "a map of header names to values") {
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(kv.val.Content); i += 2 {
		k, v := kv.val.Content[i], kv.val.Content[i+1]
		hp := kv.path + "." + k.Value
		if !headerName.MatchString(k.Value) {
			p.errorf(k, hp, "must be an HTTP header name, got %q", k.Value)
			continue
		}
		s, ok := p.scalar(v, hp, "a header value")
		if !ok {
			continue
		}
		if strings.ContainsAny(s, "\r\n") {
			p.errorf(v, hp, "must be one line")
			continue
		}
		out[k.Value] = s
	}
	return out
}
