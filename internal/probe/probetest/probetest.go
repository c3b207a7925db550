// Package probetest runs local HTTPS services for the probe's tests: one
// configured as the requirements ask, each with one defect, and one modelled
// on the real MCP server (docs/probes.md). Certificates are generated in
// memory by a throwaway CA; nothing is read from or written to disk.
package probetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defect is one thing a service gets wrong.
type Defect string

const (
	None             Defect = ""
	LegacyTLS        Defect = "TLS 1.0 accepted"
	ExpiredCert      Defect = "expired certificate"
	OtherHostCert    Defect = "certificate for another host"
	PlaintextServed  Defect = "200 over plaintext"
	NoWWWAuth        Defect = "missing WWW-Authenticate"
	WildcardCORS     Defect = "wildcard CORS"
	EchoAnyOrigin    Defect = "disallowed origin echoed"
	ExtraMethods     Defect = "extra allowed methods"
	NoMetadata       Defect = "missing metadata document"
	ReflectAuthorize Defect = "reflects the Authorization header everywhere"

	// The misconfigurations an earlier probe passed.
	LegacyTLSRSA     Defect = "TLS 1.0 with RSA key exchange only"
	LegacyOtherAlert Defect = "TLS 1.0/1.1 refused with internal_error"
	LegacyUntestable Defect = "TLS 1.0/1.1 refused with internal_error, no legacy suite over TLS 1.2"
	PreflightNot2xx  Defect = "allowed origin's preflight answered 401"
	NullOrigin       Defect = "Access-Control-Allow-Origin: null for disallowed origins"
	PlaintextMCP     Defect = "MCP endpoint served over plain HTTP"
	LenientSuffix    Defect = "allowlist matches a prefix of the origin"
	LenientPrefix    Defect = "allowlist matches the end of the origin"
	SchemeDowngrade  Defect = "allowlist matches the host only"
)

// The origin the services allow, and their valid key.
const (
	AllowedOrigin = "https://app.example.com"
	Key           = "sk-live-RECOGNISABLE-0123456789abcdef"
)

// Server is a running HTTPS service with its plaintext companion.
type Server struct {
	URL          string         // https://127.0.0.1:port/mcp
	PlaintextURL string         // http://127.0.0.1:port/mcp (or a closed port)
	RootCAs      *x509.CertPool // trusts the server's certificate
	TLS          *httptest.Server
	Plain        *httptest.Server // nil when plain HTTP is refused

	mu       sync.Mutex
	lastAuth string
}

var (
	caOnce sync.Once
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
)

func ca(t testing.TB) {
	caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "secwatch test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		caCert, _ = x509.ParseCertificate(der)
		caKey = key
		caPool = x509.NewCertPool()
		caPool.AddCert(caCert)
	})
}

// Leaf issues a certificate from the test CA for dns names and IPs, valid
// from notBefore to notAfter, with an ECDSA key.
func Leaf(t testing.TB, dns []string, ips []net.IP, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return leaf(t, dns, ips, notBefore, notAfter, key, &key.PublicKey)
}

// leafRSA is Leaf with an RSA key, which RSA key exchange needs.
func leafRSA(t testing.TB, dns []string, ips []net.IP, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return leaf(t, dns, ips, notBefore, notAfter, key, &key.PublicKey)
}

func leaf(t testing.TB, dns []string, ips []net.IP, notBefore, notAfter time.Time, key crypto.Signer, pub any) tls.Certificate {
	t.Helper()
	ca(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "secwatch test server"},
		DNSNames: dns, IPAddresses: ips, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Pool returns a pool holding the test CA.
func Pool(t testing.TB) *x509.CertPool {
	ca(t)
	return caPool
}

// Start runs a service configured as the requirements ask, except for
// defect. It stops when the test ends.
func Start(t testing.TB, defect Defect) *Server {
	t.Helper()
	s := &Server{RootCAs: Pool(t)}
	s.TLS = httptest.NewUnstartedServer(correct(s, defect))
	startTLS(t, s, defect)
	switch defect {
	case PlaintextServed:
		s.Plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok"))
		}))
	case PlaintextMCP:
		// The same endpoint in clear: 401 with a Bearer challenge, 200
		// with the key.
		s.Plain = httptest.NewServer(correct(s, None))
	default:
		s.Plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, s.TLS.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
		}))
	}
	t.Cleanup(s.Plain.Close)
	s.PlaintextURL = s.Plain.URL + "/mcp"
	return s
}

func startTLS(t testing.TB, s *Server, defect Defect) {
	now := time.Now()
	dns, ips := []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	notAfter := now.Add(90 * 24 * time.Hour)
	switch defect {
	case ExpiredCert:
		notAfter = now.Add(-24 * time.Hour)
	case OtherHostCert:
		dns, ips = []string{"other.example"}, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{Leaf(t, dns, ips, now.Add(-30*24*time.Hour), notAfter)}}
	switch defect {
	case LegacyTLS:
		cfg.MinVersion = tls.VersionTLS10
	case LegacyTLSRSA:
		// Explicit MinVersion and CipherSuites need no GODEBUG setting:
		// tls10server and tlsrsakex only change the defaults.
		cfg.MinVersion = tls.VersionTLS10
		cfg.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
		cfg.Certificates = []tls.Certificate{leafRSA(t, dns, ips, now.Add(-30*24*time.Hour), notAfter)}
	case LegacyOtherAlert, LegacyUntestable:
		// Refuses a legacy client hello with internal_error instead of
		// protocol_version.
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			for _, v := range hello.SupportedVersions {
				if v >= tls.VersionTLS12 {
					return nil, nil
				}
			}
			return nil, errors.New("legacy client")
		}
		if defect == LegacyUntestable {
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}
	}
	s.TLS.TLS = cfg
	s.TLS.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.TLS.StartTLS()
	t.Cleanup(s.TLS.Close)
	s.URL = s.TLS.URL + "/mcp"
}

// correct is the MCP endpoint as the requirements want it, with defect.
func correct(s *Server, defect Defect) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := originAllowed(defect, origin)
		h := w.Header()
		if defect == ReflectAuthorize {
			// Remembers the last credentials it saw and reflects them into
			// every later response.
			s.mu.Lock()
			if v := r.Header.Get("Authorization"); v != "" {
				s.lastAuth = v
			}
			a := s.lastAuth
			s.mu.Unlock()
			h.Set("Access-Control-Allow-Origin", a)
			h.Set("Access-Control-Allow-Methods", a)
			h.Set("Access-Control-Allow-Headers", a)
			h.Set("WWW-Authenticate", `Bearer realm="`+a+`", error="`+a+`"`)
			http.Redirect(w, r, "https://evil.example/"+a, http.StatusFound)
			return
		}
		if r.Method == http.MethodOptions {
			switch {
			case defect == WildcardCORS:
				h.Set("Access-Control-Allow-Origin", "*")
			case allowed || defect == EchoAnyOrigin && origin != "":
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Vary", "Origin")
			case defect == NullOrigin:
				h.Set("Access-Control-Allow-Origin", "null")
				h.Set("Access-Control-Allow-Credentials", "true")
			default:
				w.WriteHeader(http.StatusForbidden)
				return
			}
			if defect == PreflightNot2xx {
				// Authentication before CORS, CORS headers set anyway.
				h.Set("WWW-Authenticate", `Bearer realm="mcp"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			if defect == ExtraMethods {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			}
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Correlation-ID")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" && !allowed {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		challenge := `Bearer realm="mcp", resource_metadata="` + s.TLS.URL + `/.well-known/oauth-protected-resource/mcp"`
		switch auth := r.Header.Get("Authorization"); {
		case auth == "":
			unauthorized(w, defect, challenge)
		case auth != "Bearer "+Key:
			unauthorized(w, defect, challenge+`, error="invalid_token"`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"jsonrpc":"2.0","id":"secwatch-probe","result":{}}`))
		}
	})
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		if defect == NoMetadata {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"resource": s.URL, "authorization_servers": []string{"https://auth.example.com"}})
	})
	return mux
}

// originAllowed is the service's allowlist: exact, or with the mistake of
// a lenient defect.
func originAllowed(defect Defect, origin string) bool {
	host := strings.TrimPrefix(AllowedOrigin, "https://")
	switch defect {
	case LenientSuffix:
		return strings.HasPrefix(origin, AllowedOrigin)
	case LenientPrefix:
		return strings.HasSuffix(origin, host)
	case SchemeDowngrade:
		_, h, _ := strings.Cut(origin, "://")
		return h == host
	}
	return origin == AllowedOrigin
}

func unauthorized(w http.ResponseWriter, defect Defect, challenge string) {
	if defect != NoWWWAuth {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
}

// StartMCP runs a service modelled on the real MCP server (docs/probes.md
// describes what it models and why): an
// ALB that listens on 443 only (plain HTTP refused), authentication before
// CORS so that preflights without a key get 401 even from allowed origins,
// 401s with error="missing_token" and no resource_metadata, no metadata
// document, and CORS violations that are logged but answered 200.
func StartMCP(t testing.TB) *Server {
	t.Helper()
	s := &Server{RootCAs: Pool(t)}
	s.TLS = httptest.NewUnstartedServer(http.HandlerFunc(mcpLike))
	startTLS(t, s, None)
	// A port that refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.PlaintextURL = "http://" + l.Addr().String() + "/mcp"
	l.Close()
	return s
}

func mcpLike(w http.ResponseWriter, r *http.Request) {
	// Authentication middleware (outermost): every path but the public ones.
	if p := strings.TrimSuffix(r.URL.Path, "/"); p != "/health" && p != "" {
		auth := r.Header.Get("Authorization")
		code := ""
		switch {
		case auth == "":
			code = "missing_token"
		case !strings.HasPrefix(auth, "Bearer "):
			code = "invalid_request"
		case auth[7:] != Key:
			code = "invalid_token"
		}
		if code != "" {
			desc := map[string]string{"missing_token": "No access token provided", "invalid_token": "The access token is invalid or expired",
				"invalid_request": "The request is missing a required parameter"}[code]
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="mcp-server", error="%s", error_description="%s"`, code, desc))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"Unauthorized","message":%q,"error_code":%q}`, desc, code)
			return
		}
	}
	// CORS logging middleware: logs, never blocks. Starlette's CORS
	// middleware: allow-origin only for allowed origins.
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		if origin == AllowedOrigin {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Correlation-ID")
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "Disallowed CORS origin", http.StatusBadRequest)
		return
	}
	if origin == AllowedOrigin {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	switch r.URL.Path {
	case "/mcp":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":"secwatch-probe","result":{}}`))
	default:
		http.NotFound(w, r)
	}
}

// CAPEM returns the test CA's certificate in PEM, for a ca_bundle file.
func CAPEM(t testing.TB) []byte {
	ca(t)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})
}
