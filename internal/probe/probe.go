package probe

import (
	"cmp"
	"context"
	"crypto/x509"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
)

// Check names, in the order Run executes them.
const (
	CheckTLS           = "tls"
	CheckPlaintext     = "plaintext"
	CheckAuth          = "auth"
	CheckCORS          = "cors"
	CheckOAuthMetadata = "oauth_metadata"
)

// Checks lists every check in run order.
var Checks = []string{CheckTLS, CheckPlaintext, CheckAuth, CheckCORS, CheckOAuthMetadata}

// Defaults of the Target knobs whose zero value means "the default".
const (
	DefaultOrigin       = "https://secwatch-probe.invalid"
	DefaultAPIKeyEnv    = "MCP_API_KEY"
	DefaultCertWarnDays = 21
	DefaultCertFailDays = 7
	DefaultTimeout      = 10 * time.Second
	// WrongKey is the key the auth check presents to see a wrong key
	// refused. It is fixed so that the server's log of it (the MCP server
	// logs the first 8 hex digits of its SHA-256: d0eb2395) can be told
	// apart from a real attack.
	WrongKey = "secwatch-probe-wrong-key"
)

// Status is the outcome of a finding or a check. Worse statuses compare
// greater.
type Status int

const (
	Skip     Status = iota // not applicable, or not evaluable (the reason is in the detail)
	Pass                   // exercised and met
	Untested               // applicable but not exercised; the message says what would test it
	Warn
	Fail
)

var statusNames = [...]string{"skip", "pass", "untested", "warn", "fail"}
var statusMarks = [...]string{"-", "✓", "?", "!", "✗"}

func (s Status) String() string { return statusNames[s] }

// Mark is the report's symbol for s: ✓ pass, ✗ fail, ! warn, ? untested,
// - skip.
func (s Status) Mark() string { return statusMarks[s] }

// Secret holds a credential. It prints as "[REDACTED]" with every fmt verb
// and in JSON, so that a stray %v or a logged struct cannot show it.
type Secret string

func (Secret) String() string               { return redact.Mask }
func (Secret) GoString() string             { return redact.Mask }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redact.Mask + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redact.Mask), nil }
func (s Secret) reveal() string             { return string(s) }

// Target is one service to probe. URL is required; every other zero field
// means its documented default.
type Target struct {
	// Name identifies the probe in events (field "probe"); default the
	// URL's host.
	Name string
	// URL is the MCP endpoint, https://host[:port]/path.
	URL string
	// Checks to run; nil: all of Checks.
	Checks []string
	// Origin is an origin the service must not allow (default
	// DefaultOrigin); AllowedOrigin one it must allow ("" skips the
	// allowed-origin part of the cors check).
	Origin        string
	AllowedOrigin string
	// APIKey is a valid key ("" leaves the valid-key part of the auth
	// check untested). It is sent only over https to URL's host.
	APIKey Secret
	// OAuth says the service is meant to be an OAuth protected resource;
	// false: the oauth_metadata check is not applicable.
	OAuth bool
	// PlaintextURL is the http:// form to try; default URL with scheme
	// http and port 80.
	PlaintextURL string
	// CertWarnDays and CertFailDays: a certificate valid for fewer days
	// warns or fails (defaults 21 and 7).
	CertWarnDays, CertFailDays int
	// OriginPost is the status of a POST with a disallowed Origin that is
	// not refused with 403 (MCP's DNS-rebinding rule): Warn, or Fail (any
	// other value, the zero value included).
	OriginPost Status
	// RootCAs verifies the server's certificate; nil: the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds each connection and request; default 10s.
	Timeout time.Duration
	// Time returns the current time (certificate validity, event time);
	// nil: time.Now.
	Time func() time.Time
}

func (t *Target) now() time.Time {
	if t.Time != nil {
		return t.Time()
	}
	return time.Now()
}

// Finding is one observation of a check.
type Finding struct {
	Code        string // stable identifier, e.g. "legacy_tls_accepted"
	Requirement string // seed requirement, e.g. "18.2"
	Status      Status
	Message     string
}

// Result is the outcome of one check against one target.
type Result struct {
	Probe, Target, Check string
	Time                 time.Time
	Findings             []Finding
	// Fields are extra event fields (tls: cert_days_left, cert_expiry,
	// tls_version).
	Fields []event.Field
}

// Status is the worst status among the findings (Skip when there are
// none).
func (r *Result) Status() Status {
	s := Skip
	for _, f := range r.Findings {
		s = max(s, f.Status)
	}
	return s
}

// OK reports whether the check did not fail.
func (r *Result) OK() bool { return r.Status() != Fail }

// nominal are each check's requirements, shown when nothing is wrong.
var nominal = map[string]string{
	CheckTLS:           "18.2",
	CheckPlaintext:     "18.4, 18.6",
	CheckAuth:          "19.1, 19.3, 19.7",
	CheckCORS:          "20.1-20.6",
	CheckOAuthMetadata: "24.5",
}

// Requirement names the requirements of the findings that set the status
// (the failures, else the warnings), or the check's own when it passed.
func (r *Result) Requirement() string {
	st := r.Status()
	if st == Pass || st == Skip {
		return nominal[r.Check]
	}
	var reqs []string
	for _, f := range r.Findings {
		if f.Status == st && !slices.Contains(reqs, f.Requirement) {
			reqs = append(reqs, f.Requirement)
		}
	}
	slices.SortFunc(reqs, compareRequirement)
	return strings.Join(reqs, ", ")
}

func compareRequirement(a, b string) int {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(am)
	y, _ := strconv.Atoi(bm)
	p, _ := strconv.Atoi(an)
	q, _ := strconv.Atoi(bn)
	return cmp.Or(cmp.Compare(x, y), cmp.Compare(p, q))
}

// Detail is the messages of the findings that set the status and of the
// untested ones, joined with "; " (all of them when the check passed or
// was partly untested).
func (r *Result) Detail() string {
	st := r.Status()
	var msgs []string
	for _, f := range r.Findings {
		if (f.Status == st || f.Status == Untested || st == Pass || st == Untested) && f.Message != "" {
			msgs = append(msgs, f.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// Codes lists the codes of the failed and warning findings, sorted and
// comma-separated ("" when none).
func (r *Result) Codes() string { return r.codes(Warn, Fail) }

// UntestedCodes lists the codes of the untested findings, sorted and
// comma-separated ("" when everything applicable was exercised).
func (r *Result) UntestedCodes() string { return r.codes(Untested) }

func (r *Result) codes(statuses ...Status) string {
	var codes []string
	for _, f := range r.Findings {
		if slices.Contains(statuses, f.Status) {
			codes = append(codes, f.Code)
		}
	}
	slices.Sort(codes)
	return strings.Join(slices.Compact(codes), ",")
}

// maxDetail bounds an event's detail (each message is already at most
// 600 bytes).
const maxDetail = 2000

// Event is the result as an event: event_type "probe", probe, check,
// target, requirement, ok, status, detail, findings, untested and the
// check's extra fields.
func (r *Result) Event() event.Event {
	ev := event.Event{Time: r.Time}
	ev.Add("event_type", "probe")
	ev.Add("probe", r.Probe)
	ev.Add("check", r.Check)
	ev.Add("target", r.Target)
	ev.Add("requirement", r.Requirement())
	ev.Add("ok", strconv.FormatBool(r.OK()))
	ev.Add("status", r.Status().String())
	ev.Add("detail", redact.Sanitize(r.Detail(), maxDetail))
	ev.Add("findings", r.Codes())
	ev.Add("untested", r.UntestedCodes())
	for _, f := range r.Fields {
		ev.Set(f.Key, f.Value)
	}
	return ev
}

// Line is the report line: mark, check, requirement, detail.
func (r *Result) Line() string {
	return r.Status().Mark() + " " + padRight(r.Check, 15) + " " + padRight(r.Requirement(), 17) + " " + r.Detail()
}

func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// Run runs t's checks in the order of Checks and returns one Result per
// check. It never fails as a whole: a check that cannot reach the service
// says so in its findings. It is safe to call concurrently with distinct
// Targets.
func Run(ctx context.Context, t Target) []Result {
	p, err := newProber(t)
	var out []Result
	for _, name := range Checks {
		if t.Checks != nil && !slices.Contains(t.Checks, name) {
			continue
		}
		var r Result
		if err != nil {
			r = Result{Findings: []Finding{{"invalid_target", nominal[name], Fail, err.Error()}}}
		} else {
			r = p.run(ctx, name)
		}
		r.Probe, r.Target, r.Check, r.Time = p.target.Name, p.target.URL, name, t.now()
		for i := range r.Findings {
			r.Findings[i].Message = p.scrub(r.Findings[i].Message)
		}
		out = append(out, r)
	}
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
	return out
}

func (p *prober) run(ctx context.Context, name string) Result {
	switch name {
	case CheckTLS:
		return p.checkTLS(ctx)
	case CheckPlaintext:
		return p.checkPlaintext(ctx)
	case CheckAuth:
		return p.checkAuth(ctx)
	case CheckCORS:
		return p.checkCORS(ctx)
	case CheckOAuthMetadata:
		return p.checkOAuth(ctx)
	}
	return Result{Findings: []Finding{{"unknown_check", "", Fail, "unknown check " + strconv.Quote(name)}}}
}

// ValidateURL checks a target URL: https, a host, no user information (a
// password in the URL would end up in events), no fragment. Any "@" counts
// as user information: a password holding "/" makes url.Parse read its
// start as the host (and the probe would look it up in DNS). The error
// never quotes s: show s with redact.URL.
func ValidateURL(s string) error { return validateURL(s, "https") }

// ValidatePlaintextURL checks a plaintext URL like ValidateURL, with scheme
// http.
func ValidatePlaintextURL(s string) error { return validateURL(s, "http") }

func validateURL(s, scheme string) error {
	u, err := url.Parse(s)
	switch {
	case strings.Contains(s, "@"):
		return errString("must not hold user information (user:password@)")
	case err != nil:
		// url.Parse's error quotes the URL: never shown.
		return errString("is not a valid URL")
	case u.Scheme != scheme:
		return errString("must be an " + scheme + ":// URL")
	case u.Host == "" || u.Hostname() == "":
		return errString("has no host")
	case u.Fragment != "":
		return errString("must not have a #fragment")
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateEnvName checks the name of the variable holding the API key. The
// error never quotes name: a key given in its place must not be echoed.
func ValidateEnvName(name string) error {
	if !envName.MatchString(name) {
		return errString("must be the name of an environment variable (letters, digits and _), not the key itself; the value given is not shown")
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }
