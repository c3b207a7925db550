package probe

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/secwatch/secwatch/internal/redact"
)

// challengeNote names the scheme of a 401's challenge, if any.
func challengeNote(h http.Header) string {
	if _, ok := bearer(h.Values("WWW-Authenticate")); ok {
		return " with a challenge (scheme Bearer)"
	}
	return ""
}

// plaintextURL is the http:// form of the target: Target.PlaintextURL, or
// the URL with scheme http on port 80.
func (p *prober) plaintextURL() string {
	if p.target.PlaintextURL != "" {
		return p.target.PlaintextURL
	}
	u := *p.u
	u.Scheme = "http"
	u.Host = u.Hostname()
	if strings.Contains(u.Host, ":") {
		u.Host = "[" + u.Host + "]"
	}
	return u.String()
}

// checkPlaintext: the http:// form is redirected with 301/308 to https on
// the same host (18.4), or refused (18.6); a 2xx, or a 401 asking for
// credentials, over plain HTTP fails: the endpoint is served in clear.
// The request carries no credentials and no redirect is followed.
func (p *prober) checkPlaintext(ctx context.Context) Result {
	var r Result
	target := p.plaintextURL()
	if err := ValidatePlaintextURL(target); err != nil {
		r.Findings = append(r.Findings, Finding{"plaintext_url_invalid", "18.6", Fail, "plaintext URL " + strconv.Quote(redact.URL(target)) + " " + err.Error()})
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, p.target.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		r.Findings = append(r.Findings, Finding{"plaintext_url_invalid", "18.6", Fail, "plaintext URL " + strconv.Quote(redact.URL(target)) + " is not a valid URL"})
		return r
	}
	req.Header.Set("User-Agent", "secwatch-probe")
	// A client of its own: never follows anything.
	c := &http.Client{
		Transport:     &http.Transport{DialContext: p.dialer.DialContext, ResponseHeaderTimeout: p.target.Timeout, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       p.target.Timeout,
	}
	resp, err := c.Do(req)
	if err != nil {
		// Refused, dropped (timeout) or not speaking HTTP: no plaintext
		// service either way.
		r.Findings = append(r.Findings, Finding{"plaintext_answered", "18.6", Pass, "plain HTTP refused (" + errText(err) + ")"})
		return r
	}
	resp.Body.Close()
	st := resp.StatusCode
	switch {
	case st >= 200 && st < 300:
		r.Findings = append(r.Findings, Finding{"plaintext_served", "18.6", Fail, "plain HTTP answered " + strconv.Itoa(st) + " at " + target})
	case st >= 300 && st < 400:
		loc, err := resp.Location()
		switch {
		case err != nil:
			r.Findings = append(r.Findings, Finding{"plaintext_redirect_invalid", "18.4", Fail, "plain HTTP answered " + strconv.Itoa(st) + " without a usable Location"})
		case loc.Scheme != "https":
			r.Findings = append(r.Findings, Finding{"plaintext_redirect_not_https", "18.4", Fail, "plain HTTP redirected to " + show(loc.String()) + ", not https"})
		case !strings.EqualFold(loc.Hostname(), p.u.Hostname()):
			r.Findings = append(r.Findings, Finding{"plaintext_redirect_other_host", "18.4", Fail, "plain HTTP redirected to another host: " + show(loc.String())})
		case st != http.StatusMovedPermanently && st != http.StatusPermanentRedirect:
			r.Findings = append(r.Findings, Finding{"plaintext_redirect_temporary", "18.4", Warn, "plain HTTP redirected to https with " + strconv.Itoa(st) + ", want 301 or 308"})
		default:
			r.Findings = append(r.Findings, Finding{"plaintext_redirect", "18.4", Pass, "plain HTTP redirected (" + strconv.Itoa(st) + ") to https on the same host"})
		}
	case st == http.StatusUnauthorized:
		r.Findings = append(r.Findings, Finding{"plaintext_auth_served", "18.6", Fail, "plain HTTP answered 401 at " + target +
			challengeNote(resp.Header) + ": the endpoint is served in clear and asks clients for their key there"})
	default:
		r.Findings = append(r.Findings, Finding{"plaintext_answered", "18.6", Warn, "plain HTTP answered " + strconv.Itoa(st) + " instead of a redirect or a refusal"})
	}
	return r
}
