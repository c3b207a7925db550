package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// checkTLS: a handshake offering at most TLS 1.1 must be refused for its
// protocol version, one offering TLS 1.2+ must succeed (18.2); the chain
// must verify for the host and stay valid for CertWarnDays/CertFailDays more
// days.
//
// Both handshakes skip Go's built-in verification and nothing is sent over
// them; the chain is verified separately, so that a bad certificate is one
// finding and a protocol problem another.
func (p *prober) checkTLS(ctx context.Context) Result {
	var r Result
	host := p.u.Hostname()
	addr := net.JoinHostPort(host, cmpPort(p.u.Port(), "443"))

	if f, ok := p.legacyFinding(ctx, addr, host); ok {
		r.Findings = append(r.Findings, f)
	}

	st, err := p.handshake(ctx, addr, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		r.Findings = append(r.Findings, Finding{"modern_tls_failed", "18.2", Fail, "TLS 1.2+ handshake failed: " + errText(err)})
		return r
	}
	r.Findings = append(r.Findings, Finding{"modern_tls_failed", "18.2", Pass, tls.VersionName(st.Version) + " accepted"})
	r.Fields = append(r.Fields, event.Field{Key: "tls_version", Value: tls.VersionName(st.Version)})

	leaf := st.PeerCertificates[0]
	now := p.target.now()
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: p.target.RootCAs, Intermediates: inter, CurrentTime: now})
	days := int(math.Floor(leaf.NotAfter.Sub(now).Hours() / 24))
	expiry := "ok"
	r.Fields = append(r.Fields,
		event.Field{Key: "cert_days_left", Value: strconv.Itoa(days)},
		event.Field{Key: "cert_not_after", Value: leaf.NotAfter.UTC().Format(time.RFC3339)})

	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	switch {
	case verr == nil:
		f := Finding{"cert_expiry", "18.2", Pass, fmt.Sprintf("certificate valid for %d more days (until %s)", days, leaf.NotAfter.UTC().Format("2006-01-02"))}
		switch {
		case days < p.target.CertFailDays:
			f.Status, expiry = Fail, "fail"
			f.Message = fmt.Sprintf("certificate expires in %d days (%s), fewer than %d", days, leaf.NotAfter.UTC().Format("2006-01-02"), p.target.CertFailDays)
		case days < p.target.CertWarnDays:
			f.Status, expiry = Warn, "warn"
			f.Message = fmt.Sprintf("certificate expires in %d days (%s), fewer than %d", days, leaf.NotAfter.UTC().Format("2006-01-02"), p.target.CertWarnDays)
		}
		r.Findings = append(r.Findings, f)
	case errors.As(verr, &ci) && ci.Reason == x509.Expired:
		expiry = "fail"
		msg := "certificate expired on " + leaf.NotAfter.UTC().Format(time.RFC3339)
		if now.Before(leaf.NotBefore) {
			msg = "certificate not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339)
		}
		r.Findings = append(r.Findings, Finding{"cert_expired", "18.2", Fail, msg})
	case errors.As(verr, &he):
		names := leaf.DNSNames
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		r.Findings = append(r.Findings, Finding{"cert_wrong_host", "18.2", Fail,
			"certificate is not valid for " + strconv.Quote(host) + " (valid for " + show(strings.Join(names, ", ")) + ")"})
	case errors.As(verr, &ua):
		r.Findings = append(r.Findings, Finding{"cert_untrusted", "18.2", Fail, "certificate chain does not lead to a trusted root"})
	default:
		r.Findings = append(r.Findings, Finding{"cert_invalid", "18.2", Fail, "certificate does not verify: " + verr.Error()})
	}
	r.Fields = append(r.Fields, event.Field{Key: "cert_expiry", Value: expiry})
	return r
}

// legacySuites are every cipher suite Go implements that TLS 1.0 or 1.1
// can negotiate, insecure ones included: a legacy server may take only
// one of them (RSA key exchange, 3DES, RC4).
var legacySuites = func() []uint16 {
	var ids []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS10) || slices.Contains(cs.SupportedVersions, tls.VersionTLS11) {
			ids = append(ids, cs.ID)
		}
	}
	return ids
}()

// legacyFinding makes a handshake offering only TLS 1.0 and 1.1 with every
// legacy suite. Accepted: fail. Refused with a protocol_version alert:
// pass. Refused otherwise (handshake_failure, a reset): the same suites
// are offered over TLS 1.2; if the server takes one there, the refusal was
// about the version (pass), else the legacy result is untested: the server
// may accept TLS 1.0 with a suite Go does not implement. ok is false when
// the service cannot be reached at all (the modern handshake reports it).
func (p *prober) legacyFinding(ctx context.Context, addr, host string) (Finding, bool) {
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: true, CipherSuites: legacySuites,
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	legacy, err := p.handshake(ctx, addr, cfg)
	switch {
	case err == nil:
		return Finding{"legacy_tls_accepted", "18.2", Fail, "a handshake offering only TLS 1.0/1.1 succeeded (negotiated " +
			tls.VersionName(legacy.Version) + ", " + tls.CipherSuiteName(legacy.CipherSuite) + ")"}, true
	case isNetError(err):
		return Finding{}, false
	case versionRefused(err):
		return Finding{"legacy_tls_accepted", "18.2", Pass, "TLS 1.0/1.1 refused (protocol_version)"}, true
	}
	cfg = cfg.Clone()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, err2 := p.handshake(ctx, addr, cfg); err2 == nil {
		return Finding{"legacy_tls_accepted", "18.2", Pass, "TLS 1.0/1.1 refused (" + errText(err) + "; the same cipher suites are accepted over TLS 1.2)"}, true
	}
	return Finding{"legacy_tls_untested", "18.2", Untested, "TLS 1.0/1.1 untested: the legacy handshake failed with " + strconv.Quote(errText(err)) +
		", not a protocol_version refusal, and the server takes none of its cipher suites over TLS 1.2 either; it may accept TLS 1.0/1.1 with a suite Go does not implement (test with openssl s_client -tls1 and -tls1_1)"}, true
}

// versionRefused reports whether a handshake error is the server's
// protocol_version alert, or a server hello naming a version not offered.
func versionRefused(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "protocol version not supported") || strings.Contains(msg, "server selected unsupported protocol version")
}

// handshake dials addr and completes a TLS handshake with cfg; the
// connection is closed before it returns.
func (p *prober) handshake(ctx context.Context, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, p.target.Timeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: p.dialer, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// isNetError reports whether err happened before TLS: no TCP connection
// at all. A handshake that times out after connecting is a refusal.
func isNetError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func cmpPort(port, def string) string {
	if port == "" {
		return def
	}
	return port
}
