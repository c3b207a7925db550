package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/probe"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// Probe is one external probe target (docs/probes.md). The config holds
// the name of the environment variable or the path of the file with the
// API key, never the key.
type Probe struct {
	Name          string        // unique, [a-z0-9][a-z0-9_-]*
	URL           string        // https://host[:port]/path
	Interval      time.Duration // default 5m
	Timeout       time.Duration // per connection and request; default 10s
	Checks        []string      // default every check (probe.Checks)
	Origin        string        // a disallowed origin to test; default probe.DefaultOrigin
	AllowedOrigin string        // an origin the service allows; "" skips that part
	APIKeyEnv     string        // default probe.DefaultAPIKeyEnv; "" when APIKeyFile is set
	APIKeyFile    string        // a file holding the key, re-read every round; Load resolves it
	OAuth         bool          // the service is an OAuth protected resource
	PlaintextURL  string        // default: URL with http:// on port 80
	CABundle      string        // PEM file of extra roots; Load resolves it
	CertWarnDays  int           // default 21
	CertFailDays  int           // default 7
	// DisallowedOriginPost is the severity of a POST with a disallowed
	// Origin that is not refused with 403: "fail" (default) or "warn".
	DisallowedOriginPost string
}

// Defaults of the probe keys.
const (
	DefaultProbeInterval = 5 * time.Minute
	DefaultProbeTimeout  = 10 * time.Second
)

var probeKeys = []string{
	"name", "url", "interval", "timeout", "checks", "origin", "allowed_origin", "api_key_env", "api_key_file",
	"oauth", "plaintext_url", "ca_bundle", "cert_warn_days", "cert_fail_days", "disallowed_origin_post",
}

var (
	originForm = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://[^/\s@]+$`)
)

// probes decodes the probes list.
func (p *parser) probes(kv keyVal) []Probe {
	if !p.Is(kv.val, yaml.SequenceNode, kv.path, "a list of probes") {
		return nil
	}
	var out []Probe
	names := map[string]*yaml.Node{}
	for i, n := range kv.val.Content {
		path := fmt.Sprintf("probes[%d]", i)
		pr, ok := p.probe(n, path)
		if !ok {
			continue
		}
		p.uniqueName(names, n, path, pr.Name)
		out = append(out, pr)
	}
	return out
}

func (p *parser) probe(n *yaml.Node, path string) (Probe, bool) {
	if !p.Is(n, yaml.MappingNode, path, "a map") {
		return Probe{}, false
	}
	pr := Probe{
		Interval: DefaultProbeInterval, Timeout: DefaultProbeTimeout, Checks: slices.Clone(probe.Checks),
		Origin: probe.DefaultOrigin, APIKeyEnv: probe.DefaultAPIKeyEnv,
		CertWarnDays: probe.DefaultCertWarnDays, CertFailDays: probe.DefaultCertFailDays,
		DisallowedOriginPost: "fail",
	}
	has := map[string]keyVal{}
	for _, kv := range p.mapping(n, path, probeKeys) {
		has[kv.name] = kv
		switch kv.name {
		case "name":
			pr.Name = p.name(kv)
		case "url":
			if s, ok := p.scalar(kv.val, kv.path, "an https URL"); ok {
				if err := probe.ValidateURL(s); err != nil {
					p.errorf(kv.val, kv.path, "%s, got %s", err, p.gotURL(kv.val))
				} else {
					pr.URL = s
				}
			}
		case "interval":
			pr.Interval, _ = p.duration(kv, 10*time.Second, 24*time.Hour)
		case "timeout":
			pr.Timeout, _ = p.duration(kv, time.Second, time.Minute)
		case "checks":
			pr.Checks = p.list(kv, func(s string) string {
				if !contains(probe.Checks, s) {
					return "must be one of " + strings.Join(probe.Checks, ", ") + yamldiag.DidYouMean(s, probe.Checks, nil)
				}
				return ""
			})
		case "origin", "allowed_origin":
			if s, ok := p.scalar(kv.val, kv.path, "an origin"); ok {
				if !originForm.MatchString(s) {
					p.errorf(kv.val, kv.path, "must be an origin like \"https://app.example.com\" (scheme and host, no path, no user information), got %s", p.gotURL(kv.val))
				} else if kv.name == "origin" {
					pr.Origin = s
				} else {
					pr.AllowedOrigin = s
				}
			}
		case "api_key_env":
			if s, ok := p.scalar(kv.val, kv.path, "an environment variable name"); ok {
				if err := probe.ValidateEnvName(s); err != nil {
					// Never quoted: it may be the key itself.
					p.errorf(kv.val, kv.path, "%s", err)
				} else {
					pr.APIKeyEnv = s
				}
			}
		case "api_key_file":
			if s, ok := p.scalar(kv.val, kv.path, "a path"); ok {
				if msg := checkPath(s); msg != "" || s == "" {
					p.errorf(kv.val, kv.path, "must be the path of a file holding the key%s", cmpMsg(msg))
				} else {
					pr.APIKeyFile = s
				}
			}
		case "oauth":
			pr.OAuth, _ = p.boolean(kv)
		case "plaintext_url":
			if s, ok := p.scalar(kv.val, kv.path, "an http URL"); ok {
				if err := probe.ValidatePlaintextURL(s); s != "" && err != nil {
					p.errorf(kv.val, kv.path, "%s, got %s", err, p.gotURL(kv.val))
				} else {
					pr.PlaintextURL = s
				}
			}
		case "ca_bundle":
			if s, ok := p.scalar(kv.val, kv.path, "a path"); ok {
				if msg := checkPath(s); msg != "" {
					p.errorf(kv.val, kv.path, "%s, got %s", msg, p.got(kv.val))
				} else {
					pr.CABundle = s
				}
			}
		case "cert_warn_days":
			pr.CertWarnDays, _ = p.integer(kv, 1, 365)
		case "cert_fail_days":
			pr.CertFailDays, _ = p.integer(kv, 1, 365)
		case "disallowed_origin_post":
			pr.DisallowedOriginPost, _ = p.oneOf(kv, []string{"fail", "warn"})
		}
	}
	if _, ok := has["name"]; !ok {
		p.required(n, path+".name", "required")
	}
	if _, ok := has["url"]; !ok {
		p.required(n, path+".url", "required")
	}
	if kv, ok := has["checks"]; ok && kv.val.Kind == yaml.SequenceNode && len(kv.val.Content) == 0 {
		p.errorf(kv.val, kv.path, "must name at least one check (leave it out for all)")
	}
	if pr.CertWarnDays > 0 && pr.CertFailDays > 0 && pr.CertFailDays >= pr.CertWarnDays {
		at := n
		if kv, ok := has["cert_fail_days"]; ok {
			at = kv.val
		}
		p.errorf(at, path+".cert_fail_days", "must be less than cert_warn_days (%d), got %d", pr.CertWarnDays, pr.CertFailDays)
	}
	if kv, ok := has["api_key_file"]; ok {
		if _, both := has["api_key_env"]; both {
			p.errorf(kv.val, kv.path, "api_key_env and api_key_file exclude each other")
		}
		pr.APIKeyEnv = ""
	}
	if pr.Origin != "" && pr.Origin == pr.AllowedOrigin {
		p.errorf(has["allowed_origin"].val, path+".allowed_origin", "must differ from origin (the origin that must be refused)")
	}
	return pr, true
}

// gotURL quotes a refused URL or origin with its user information masked:
// a password or key there is never echoed.
func (p *parser) gotURL(n *yaml.Node) string {
	return strconv.Quote(redact.URL(n.Value))
}

// cmpMsg is " (msg)", or "" when msg is empty.
func cmpMsg(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
