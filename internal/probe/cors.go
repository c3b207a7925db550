package probe

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The methods and headers requirement 20.5 and 20.6 allow.
var (
	allowedMethods = []string{"POST", "OPTIONS"}
	allowedHeaders = []string{"content-type", "authorization", "x-correlation-id"}
)

// probeMethod and probeHeader are asked for in a second preflight: a
// server that mirrors whatever is requested allows them.
const (
	probeMethod = "DELETE"
	probeHeader = "x-secwatch-probe"
)

// checkCORS: preflights from disallowed origins get no
// Access-Control-Allow-Origin naming them, nor "null" (20.3), nor "*"
// (20.2); the disallowed origins are Target.Origin, "null" and, when an
// allowed origin is given, the usual allowlist mistakes derived from it
// (lenientOrigins). The allowed origin's preflight is answered 2xx with
// the origin echoed (20.1), at most POST and OPTIONS (20.5) and the three
// headers of 20.6. A POST with a disallowed Origin is refused with 403
// (MCP's DNS-rebinding rule, 20.3).
func (p *prober) checkCORS(ctx context.Context) Result {
	var r Result
	preflight := func(origin, method, headers string) (*response, error) {
		return p.do(ctx, request{method: http.MethodOptions, url: p.target.URL, header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers,
		}})
	}
	const askHeaders = "content-type,authorization,x-correlation-id"
	bad := p.target.Origin

	// Disallowed origins' preflights.
	allowedBad := false
	for i, o := range disallowedOrigins(bad, p.target.AllowedOrigin) {
		resp, err := preflight(o.origin, "POST", askHeaders)
		if err != nil {
			r.Findings = append(r.Findings, unreachable("preflight_unreachable", "20.3", "preflight", err))
			return r
		}
		if f, ok := disallowedFinding(o, resp); ok {
			r.Findings = append(r.Findings, f)
			allowedBad = allowedBad || f.Code == "disallowed_origin_allowed"
		}
		if i == 0 {
			r.Findings = append(r.Findings, listFindings(resp)...)
		}
	}
	if !allowedBad {
		r.Findings = append(r.Findings, Finding{"disallowed_origin_allowed", "20.3", Pass, "disallowed origins not allowed"})
	}

	// The allowed origin's preflight.
	if good := p.target.AllowedOrigin; good != "" {
		resp, err := preflight(good, "POST", askHeaders)
		if err != nil {
			r.Findings = append(r.Findings, unreachable("preflight_unreachable", "20.1", "preflight", err))
			return r
		}
		switch acao := resp.header.Get("Access-Control-Allow-Origin"); {
		case acao == "*":
			r.Findings = append(r.Findings, Finding{"wildcard_origin", "20.2", Fail, "preflight from the allowed origin answered Access-Control-Allow-Origin: *"})
		case resp.status < 200 || resp.status > 299:
			// Browsers fail any preflight that is not 2xx, whatever its
			// headers say.
			r.Findings = append(r.Findings, Finding{"allowed_origin_not_echoed", "20.1", Fail,
				"preflight from allowed origin " + show(good) + " answered " + strconv.Itoa(resp.status) + ", not 2xx: browsers fail it"})
		case acao != good:
			r.Findings = append(r.Findings, Finding{"allowed_origin_not_echoed", "20.1", Fail,
				"preflight from allowed origin " + show(good) + " answered " + strconv.Itoa(resp.status) + " without echoing it in Access-Control-Allow-Origin"})
		default:
			r.Findings = append(r.Findings, Finding{"allowed_origin_not_echoed", "20.1", Pass, "allowed origin echoed"})
		}
		r.Findings = append(r.Findings, listFindings(resp)...)
		// Ask for more than is allowed: a mirroring server grants it.
		if resp, err := preflight(good, probeMethod, "content-type,"+probeHeader); err == nil {
			r.Findings = append(r.Findings, listFindings(resp)...)
		}
	} else {
		hint := "(--allowed-origin; allowed_origin in the config)"
		r.Findings = append(r.Findings,
			Finding{"allowed_origin_not_tested", "20.1", Untested, "20.1, 20.5, 20.6 and the lenient-allowlist origins untested: no allowed origin given " + hint},
			Finding{"allowed_methods_not_tested", "20.5", Untested, ""},
			Finding{"allowed_headers_not_tested", "20.6", Untested, ""})
	}

	// A POST with a disallowed Origin must be refused (403), key or not.
	resp, err := p.do(ctx, request{method: http.MethodPost, url: p.target.URL, header: map[string]string{
		"Origin": bad, "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
	}, withKey: p.target.APIKey != "", body: mcpPing})
	switch {
	case err != nil:
		r.Findings = append(r.Findings, unreachable("origin_post_unreachable", "20.3", "POST with a disallowed Origin", err))
	case resp.status == http.StatusForbidden:
		r.Findings = append(r.Findings, Finding{"disallowed_origin_post_not_refused", "20.3", Pass, "POST with a disallowed Origin refused with 403"})
	case resp.status == http.StatusUnauthorized && p.target.APIKey == "":
		r.Findings = append(r.Findings, Finding{"disallowed_origin_post_not_tested", "20.3", Untested,
			"POST with a disallowed Origin answered 401: the Origin check behind authentication is untested without an API key " + noKeyHint})
	default:
		r.Findings = append(r.Findings, Finding{"disallowed_origin_post_not_refused", "20.3", p.target.OriginPost,
			"POST with disallowed Origin " + show(bad) + " answered " + strconv.Itoa(resp.status) + ", want 403"})
	}
	return dedupe(r)
}

// badOrigin is a disallowed origin to send, and why it is tried.
type badOrigin struct{ origin, why string }

// disallowedOrigins are the origins whose preflights must not be allowed:
// the configured one, "null" (any sandboxed iframe sends it), and, when an
// allowed origin is known, its usual allowlist mistakes: a suffix
// (https://app.example.com.evil.test, a prefix match), a prefix
// (https://evilapp.example.com, a suffix match) and plain http (a host
// match).
func disallowedOrigins(bad, allowed string) []badOrigin {
	out := []badOrigin{{bad, ""}, {"null", ""}}
	u, err := url.Parse(allowed)
	if allowed == "" || err != nil || u.Hostname() == "" {
		return out
	}
	host, port := u.Hostname(), u.Port()
	origin := func(scheme, h string) string {
		if port != "" {
			h = net.JoinHostPort(h, port)
		}
		return scheme + "://" + h
	}
	out = append(out,
		badOrigin{origin(u.Scheme, host+".evil.test"), "the allowed origin with a suffix"},
		badOrigin{origin(u.Scheme, "evil"+host), "the allowed origin with a prefix"})
	if u.Scheme == "https" {
		out = append(out, badOrigin{origin("http", host), "the allowed origin over plain http"})
	}
	return out
}

// disallowedFinding judges a disallowed origin's preflight: allowed when
// Access-Control-Allow-Origin is "*", echoes the origin, or is "null".
func disallowedFinding(o badOrigin, resp *response) (Finding, bool) {
	acao := resp.header.Get("Access-Control-Allow-Origin")
	what := "preflight from disallowed origin " + show(o.origin)
	if o.why != "" {
		what += " (" + o.why + ": a lenient allowlist)"
	}
	switch {
	case acao == "*":
		return Finding{"wildcard_origin", "20.2", Fail, what + " answered Access-Control-Allow-Origin: *"}, true
	case strings.EqualFold(acao, "null"):
		return Finding{"disallowed_origin_allowed", "20.3", Fail, what + " answered Access-Control-Allow-Origin: null (any sandboxed iframe sends Origin: null)"}, true
	case acao != "" && strings.EqualFold(acao, o.origin):
		return Finding{"disallowed_origin_allowed", "20.3", Fail, what + " was allowed (origin echoed)"}, true
	}
	return Finding{}, false
}

// listFindings checks Access-Control-Allow-Methods and -Headers.
func listFindings(resp *response) []Finding {
	var out []Finding
	if extra := extras(resp.header.Values("Access-Control-Allow-Methods"), allowedMethods, true); len(extra) > 0 {
		out = append(out, Finding{"extra_methods", "20.5", Fail, "preflight allows methods beyond POST, OPTIONS: " + show(strings.Join(extra, ", "))})
	}
	if extra := extras(resp.header.Values("Access-Control-Allow-Headers"), allowedHeaders, false); len(extra) > 0 {
		out = append(out, Finding{"extra_headers", "20.6", Fail, "preflight allows headers beyond Content-Type, Authorization, X-Correlation-ID: " + show(strings.Join(extra, ", "))})
	}
	return out
}

// extras returns the listed values not in allowed ("*" included).
func extras(values, allowed []string, upper bool) []string {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			norm := strings.ToLower(item)
			if upper {
				norm = strings.ToUpper(item)
			}
			if !contains(allowed, norm) && !contains(out, item) {
				out = append(out, item)
			}
		}
	}
	return out
}

// dedupe keeps the first finding of each failing code, so that a defect
// seen in several preflights is reported once.
func dedupe(r Result) Result {
	seen := map[string]bool{}
	var out []Finding
	for _, f := range r.Findings {
		k := f.Code + "/" + f.Status.String()
		if f.Status == Fail && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	r.Findings = out
	return r
}
