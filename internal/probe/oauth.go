package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const wellKnown = "/.well-known/oauth-protected-resource"

// checkOAuth: the protected resource metadata document (RFC 9728) exists at
// the root or path-inserted well-known URL, names the server as its
// resource and lists authorization servers, and the 401 challenge points
// to it with resource_metadata (24.5). Not applicable unless Target.OAuth.
func (p *prober) checkOAuth(ctx context.Context) Result {
	var r Result
	if !p.target.OAuth {
		r.Findings = append(r.Findings, Finding{"not_applicable", "24.5", Skip, "not applicable: OAuth is not configured for this target"})
		return r
	}
	origin := p.u.Scheme + "://" + p.u.Host
	path := strings.TrimSuffix(p.u.EscapedPath(), "/")
	urls := []string{origin + wellKnown}
	if path != "" {
		urls = []string{origin + wellKnown + path, origin + wellKnown}
	}
	var problems []string
	found := false
	for _, u := range urls {
		resp, err := p.do(ctx, request{method: http.MethodGet, url: u, header: map[string]string{"Accept": "application/json"}})
		if err != nil {
			f := unreachable("metadata_unreachable", "24.5", "metadata document", err)
			if f.Status == Skip {
				r.Findings = append(r.Findings, f)
				return r
			}
			problems = append(problems, u+": "+errText(err))
			continue
		}
		if resp.status != http.StatusOK {
			problems = append(problems, u+": "+strconv.Itoa(resp.status))
			continue
		}
		var doc struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		if err := json.Unmarshal(resp.body, &doc); err != nil {
			r.Findings = append(r.Findings, Finding{"metadata_invalid", "24.5", Fail, u + " is not a JSON metadata document"})
			found = true
			break
		}
		found = true
		if !sameResource(doc.Resource, p.target.URL) && !(u == origin+wellKnown && sameResource(doc.Resource, origin)) {
			r.Findings = append(r.Findings, Finding{"metadata_wrong_resource", "24.5", Fail, "metadata resource is " + show(doc.Resource) + ", want " + strconv.Quote(p.target.URL)})
		}
		if len(doc.AuthorizationServers) == 0 {
			r.Findings = append(r.Findings, Finding{"metadata_no_authorization_servers", "24.5", Fail, "metadata lists no authorization_servers"})
		}
		if len(r.Findings) == 0 {
			r.Findings = append(r.Findings, Finding{"metadata_missing", "24.5", Pass, "metadata document at " + u})
		}
		break
	}
	if !found {
		r.Findings = append(r.Findings, Finding{"metadata_missing", "24.5", Fail, "no protected resource metadata document (" + strings.Join(problems, ", ") + ")"})
	}

	// The challenge must point to the document.
	resp, err := p.do(ctx, request{method: http.MethodPost, url: p.target.URL, header: jsonHeaders, body: mcpPing})
	switch {
	case err != nil:
		r.Findings = append(r.Findings, unreachable("challenge_unreachable", "24.5", "401 challenge", err))
	case resp.status != http.StatusUnauthorized:
		r.Findings = append(r.Findings, Finding{"resource_metadata_missing", "24.5", Skip, "401 challenge not checked: a request without credentials answered " + strconv.Itoa(resp.status) + " (see the auth check)"})
	default:
		c, ok := bearer(resp.header.Values("WWW-Authenticate"))
		switch {
		case !ok:
			r.Findings = append(r.Findings, Finding{"resource_metadata_missing", "24.5", Skip, "401 challenge not checked: no challenge with scheme Bearer (see the auth check)"})
		case c.params["resource_metadata"] == "":
			r.Findings = append(r.Findings, Finding{"resource_metadata_missing", "24.5", Fail, "the 401 challenge (scheme Bearer) has no resource_metadata"})
		default:
			r.Findings = append(r.Findings, Finding{"resource_metadata_missing", "24.5", Pass, "challenge carries resource_metadata"})
		}
	}
	return r
}

// sameResource compares resource identifiers, ignoring a trailing slash
// and the case of scheme and host.
func sameResource(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || a == "" {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.EscapedPath(), "/") == strings.TrimSuffix(ub.EscapedPath(), "/")
}
