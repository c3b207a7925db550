package probe

import (
	"context"
	"net/http"
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

// checkCORS: a preflight from a disallowed origin gets no
// Access-Control-Allow-Origin (20.1, 20.3) and never "*" (20.2); one from
// the allowed origin is echoed (20.1), allows at most POST and OPTIONS
// (20.5) and the three headers of 20.6; a POST with a disallowed Origin is
// refused with 403 (MCP's DNS-rebinding rule, 20.3).
func (p *prober) checkCORS(ctx context.Context) Result {
	var r Result
	preflight := func(origin, method, headers string) (*response, error) {
		return p.do(ctx, request{method: http.MethodOptions, url: p.target.URL, header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers,
		}})
	}
	bad := p.target.Origin

	// A disallowed origin's preflight.
	resp, err := preflight(bad, "POST", "content-type,authorization,x-correlation-id")
	if err != nil {
		r.Findings = append(r.Findings, unreachable("preflight_unreachable", "20.3", "preflight", err))
		return r
	}
	switch acao := resp.header.Get("Access-Control-Allow-Origin"); {
	case acao == "*":
		r.Findings = append(r.Findings, Finding{"wildcard_origin", "20.2", Fail, "preflight answered Access-Control-Allow-Origin: *"})
	case acao != "" && strings.EqualFold(acao, bad):
		r.Findings = append(r.Findings, Finding{"disallowed_origin_allowed", "20.3", Fail, "preflight from disallowed origin " + show(bad) + " was allowed (origin echoed)"})
	default:
		r.Findings = append(r.Findings, Finding{"disallowed_origin_allowed", "20.3", Pass, "disallowed origin not allowed"})
	}
	r.Findings = append(r.Findings, listFindings(resp)...)

	// The allowed origin's preflight.
	if good := p.target.AllowedOrigin; good != "" {
		resp, err := preflight(good, "POST", "content-type,authorization,x-correlation-id")
		if err != nil {
			r.Findings = append(r.Findings, unreachable("preflight_unreachable", "20.1", "preflight", err))
			return r
		}
		switch acao := resp.header.Get("Access-Control-Allow-Origin"); {
		case acao == "*":
			r.Findings = append(r.Findings, Finding{"wildcard_origin", "20.2", Fail, "preflight from the allowed origin answered Access-Control-Allow-Origin: *"})
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
	}

	// A POST with a disallowed Origin must be refused (403), key or not.
	resp, err = p.do(ctx, request{method: http.MethodPost, url: p.target.URL, header: map[string]string{
		"Origin": bad, "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
	}, withKey: p.target.APIKey != "", body: mcpPing})
	switch {
	case err != nil:
		r.Findings = append(r.Findings, unreachable("origin_post_unreachable", "20.3", "POST with a disallowed Origin", err))
	case resp.status == http.StatusForbidden:
		r.Findings = append(r.Findings, Finding{"disallowed_origin_post_not_refused", "20.3", Pass, "POST with a disallowed Origin refused with 403"})
	case resp.status == http.StatusUnauthorized && p.target.APIKey == "":
		r.Findings = append(r.Findings, Finding{"disallowed_origin_post_not_tested", "20.3", Warn,
			"POST with a disallowed Origin answered 401: without a valid key ($" + p.target.APIKeyEnv + ") the Origin check behind authentication is not tested"})
	default:
		r.Findings = append(r.Findings, Finding{"disallowed_origin_post_not_refused", "20.3", p.target.OriginPost,
			"POST with disallowed Origin " + show(bad) + " answered " + strconv.Itoa(resp.status) + ", want 403"})
	}
	return dedupe(r)
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
