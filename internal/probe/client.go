package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/redact"
)

// maxBody bounds what a check reads of a response body.
const maxBody = 64 << 10

// maxRedirects bounds the same-host redirects the client follows.
const maxRedirects = 3

// prober runs the checks of one Target with one HTTP client.
type prober struct {
	target Target
	u      *url.URL
	client *http.Client
	dialer *net.Dialer
}

func newProber(t Target) (*prober, error) {
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.Origin == "" {
		t.Origin = DefaultOrigin
	}
	if t.CertWarnDays == 0 {
		t.CertWarnDays = DefaultCertWarnDays
	}
	if t.CertFailDays == 0 {
		t.CertFailDays = DefaultCertFailDays
	}
	if t.OriginPost != Warn {
		t.OriginPost = Fail
	}
	p := &prober{target: t}
	if err := ValidateURL(t.URL); err != nil {
		if p.target.Name == "" {
			p.target.Name = "invalid"
		}
		return p, fmt.Errorf("target URL %s", err.Error())
	}
	p.u, _ = url.Parse(t.URL)
	if p.target.Name == "" {
		p.target.Name = p.u.Hostname()
	}
	p.dialer = &net.Dialer{Timeout: t.Timeout}
	tr := &http.Transport{
		// No proxy: the probe must see the service as its clients do,
		// and a proxy would see the key.
		Proxy:                 nil,
		DialContext:           p.dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: t.RootCAs, MinVersion: tls.VersionTLS12, Time: t.Time},
		TLSHandshakeTimeout:   t.Timeout,
		ResponseHeaderTimeout: t.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	p.client = &http.Client{
		Transport:     tr,
		Timeout:       t.Timeout,
		CheckRedirect: p.checkRedirect,
	}
	return p, nil
}

// checkRedirect follows a redirect only to the target's own host over
// https, at most maxRedirects times; otherwise the check sees the redirect
// response itself. A redirect to another host is never followed, so the
// key can never be sent there.
func (p *prober) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects || req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, p.u.Host) {
		return http.ErrUseLastResponse
	}
	return nil
}

// scrub removes the key (and anything that looks like a credential) from
// text that came from the network or from an error, and makes it safe to
// display.
func (p *prober) scrub(s string) string {
	return redact.Sanitize(redact.Text(redact.Key(s, p.target.APIKey.reveal())), 600)
}

// show quotes a header value from the server for a message: sanitized,
// cut to 120 bytes.
func show(v string) string {
	return fmt.Sprintf("%q", redact.Sanitize(v, 120))
}

// request describes one HTTP request of a check.
type request struct {
	method, url string
	header      map[string]string
	withKey     bool   // send the valid key
	bearer      string // or this (not secret) token
	body        string
}

// response is what a check looks at.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req. The key is attached only to https requests for the
// target's own host. The error never holds the key (requests carry it in
// a header, and errors quote only the URL).
func (p *prober) do(ctx context.Context, r request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, p.target.Timeout)
	defer cancel()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "secwatch-probe")
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.withKey {
		if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, p.u.Host) {
			return nil, errors.New("refusing to send the API key to " + req.URL.Scheme + "://" + req.URL.Host)
		}
		req.Header.Set("Authorization", "Bearer "+p.target.APIKey.reveal())
	} else if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// certError reports whether err is a certificate verification failure:
// the tls check reports it, the HTTP checks then cannot run.
func certError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he)
}

// unreachable turns a request error into the check's finding: a
// certificate problem is the tls check's finding, so the check is skipped;
// anything else fails it.
func unreachable(code, req, what string, err error) Finding {
	if certError(err) {
		return Finding{code, req, Skip, what + " not checked: the certificate does not verify (see the tls check)"}
	}
	return Finding{code, req, Fail, what + ": request failed: " + errText(err)}
}

// errText is an error's message without Go's "Post \"url\": " prefix
// noise kept to the essential.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
