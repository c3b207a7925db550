package probe

import (
	"context"
	"net/http"
	"strconv"
	"strings"
)

// mcpPing is the body of the probe's POSTs: a JSON-RPC ping, harmless to
// any MCP server.
const mcpPing = `{"jsonrpc":"2.0","id":"secwatch-probe","method":"ping"}`

// noKeyHint says how to give the probe a key. It never names the variable
// or file actually configured: a key mistakenly given there must not be
// echoed.
const noKeyHint = "(--api-key-env or --api-key-file; api_key_env or api_key_file in the config)"

var jsonHeaders = map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

// rfc6750Codes are the error codes RFC 6750 §3.1 defines.
var rfc6750Codes = []string{"invalid_request", "invalid_token", "insufficient_scope"}

// checkAuth: without credentials, 401 with a Bearer challenge carrying a
// realm and no error code (19.3, 19.7, RFC 6750 §3.1); with a wrong key,
// 401 with error="invalid_token"; with the valid key, accepted (19.1).
func (p *prober) checkAuth(ctx context.Context) Result {
	var r Result
	post := func(withKey bool, token string) (*response, error) {
		return p.do(ctx, request{method: http.MethodPost, url: p.target.URL, header: jsonHeaders, withKey: withKey, bearer: token, body: mcpPing})
	}

	// No credentials.
	if resp, err := post(false, ""); err != nil {
		r.Findings = append(r.Findings, unreachable("no_credentials_unreachable", "19.3", "request without credentials", err))
		return r
	} else if resp.status != http.StatusUnauthorized {
		r.Findings = append(r.Findings, Finding{"no_credentials_not_401", "19.3", Fail, "request without credentials answered " + strconv.Itoa(resp.status) + ", want 401"})
	} else {
		r.Findings = append(r.Findings, Finding{"no_credentials_not_401", "19.3", Pass, ""})
		r.Findings = append(r.Findings, p.challengeFindings("no_credentials", "no credentials", resp, "")...)
	}

	// A wrong key.
	if resp, err := post(false, WrongKey); err != nil {
		r.Findings = append(r.Findings, unreachable("wrong_key_unreachable", "19.3", "request with a wrong key", err))
	} else if resp.status != http.StatusUnauthorized {
		r.Findings = append(r.Findings, Finding{"wrong_key_not_401", "19.3", Fail, "request with a wrong key answered " + strconv.Itoa(resp.status) + ", want 401"})
	} else {
		r.Findings = append(r.Findings, Finding{"wrong_key_not_401", "19.3", Pass, ""})
		r.Findings = append(r.Findings, p.challengeFindings("wrong_key", "wrong key", resp, "invalid_token")...)
	}

	// The valid key.
	if p.target.APIKey == "" {
		r.Findings = append(r.Findings, Finding{"valid_key_not_tested", "19.1", Untested, "19.1 untested: no API key given " + noKeyHint})
		return r
	}
	if resp, err := post(true, ""); err != nil {
		r.Findings = append(r.Findings, unreachable("valid_key_unreachable", "19.1", "request with the valid key", err))
	} else if resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden {
		r.Findings = append(r.Findings, Finding{"valid_key_refused", "19.1", Fail, "the API key was refused with " + strconv.Itoa(resp.status)})
	} else {
		r.Findings = append(r.Findings, Finding{"valid_key_refused", "19.1", Pass, "valid key accepted (" + strconv.Itoa(resp.status) + ")"})
	}
	return r
}

// challengeFindings checks a 401's WWW-Authenticate: a Bearer challenge
// with a realm, and error code want ("" for none, as RFC 6750 §3.1 asks of
// a request without credentials).
func (p *prober) challengeFindings(code, what string, resp *response, want string) []Finding {
	values := resp.header.Values("WWW-Authenticate")
	if len(values) == 0 {
		return []Finding{{code + "_www_authenticate_missing", "19.7", Fail, what + ": 401 without WWW-Authenticate"}}
	}
	c, ok := bearer(values)
	if !ok {
		return []Finding{{code + "_not_bearer", "19.7", Fail, what + ": WWW-Authenticate has no challenge with scheme Bearer: " + show(strings.Join(values, ", "))}}
	}
	var out []Finding
	if _, ok := c.params["realm"]; !ok {
		out = append(out, Finding{code + "_no_realm", "19.7", Warn, what + ": challenge (scheme Bearer) without a realm"})
	}
	got, has := c.params["error"]
	nonStandard := ""
	if has && !contains(rfc6750Codes, got) {
		nonStandard = " (not an RFC 6750 error code)"
	}
	switch {
	case want == "" && has:
		out = append(out, Finding{code + "_error_code", "19.7", Warn, what + ": challenge carries error=" + show(got) + nonStandard + "; RFC 6750 §3.1 wants no error code when no credentials were sent"})
	case want != "" && !has:
		out = append(out, Finding{code + "_error_code", "19.7", Warn, what + ": challenge has no error code, want error=\"" + want + "\""})
	case want != "" && got != want:
		out = append(out, Finding{code + "_error_code", "19.7", Warn, what + ": challenge carries error=" + show(got) + nonStandard + ", want \"" + want + "\""})
	default:
		detail := "no error code"
		if want != "" {
			detail = "error=\"" + want + "\""
		}
		out = append(out, Finding{code + "_error_code", "19.7", Pass, what + ": 401, challenge as RFC 6750 asks (scheme Bearer, realm, " + detail + ")"})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
