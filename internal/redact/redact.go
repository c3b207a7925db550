// Package redact removes secrets from values before they leave secwatch (in
// alert samples, notifications and logs) and makes attacker-controlled text
// safe to show in a subject line or an email body. It is a leaf package with
// no dependencies inside secwatch.
package redact

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask replaces a redacted secret.
const Mask = "[REDACTED]"

// secretNames are substrings of field names (lowercased) whose values are
// always secrets. "key_hash" is deliberately absent: the MCP server logs the
// first 8 hex digits of a key's SHA-256, which identifies a key without
// revealing it.
var secretNames = []string{
	"authorization", "api_key", "apikey", "api-key", "x-api-key", "token",
	"password", "passwd", "secret", "cookie", "credential", "private_key",
}

var (
	// The credential of an Authorization header, whatever its scheme
	// ("Token x", "Digest x", "AWS4-HMAC-SHA256 x").
	authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?[A-Za-z][A-Za-z0-9_-]*(?:\s+|%20|\+))[^\s"',;}&]+`)
	// Every pair of a Cookie or Set-Cookie header, not only the first.
	cookieHeader = regexp.MustCompile(`(?i)((?:set-)?cookie["']?\s*[:=]\s*["']?)[^\s"',;}&]+(?:;\s*[^\s"',;}&]+)*`)
	// Bearer/Basic credentials anywhere in a value.
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+|%20|\+)[A-Za-z0-9\-._~+/]+=*`)
	// key=value and "key": "value" pairs with secret-looking keys inside
	// free text (query strings, logged headers, dict reprs).
	secretPair = regexp.MustCompile(`(?i)((?:api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|token|password|passwd|secret|client[_-]?secret|authorization|cookie)["']?\s*(?:=|:)\s*["']?)([^&\s"',;}]+)`)
)

// SecretName reports whether a field with this name holds a secret. Only the
// last dotted segment counts ("details.authorization" is secret,
// "authorization_failures.count" is not).
func SecretName(key string) bool {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	k := strings.ToLower(key)
	for _, s := range secretNames {
		if strings.Contains(k, s) {
			return true
		}
	}
	// Named like a key: "key", "access_key", "signing-key", "privateKey"
	// (but not "key_hash", "key_id" or "monkey").
	return k == "key" || strings.HasSuffix(k, "_key") || strings.HasSuffix(k, "-key") ||
		strings.HasSuffix(key, "Key") && len(key) > 3 && unicode.IsLower(rune(key[len(key)-4]))
}

// Value returns v, or Mask when the field name is secret, with credentials
// embedded in the text masked.
func Value(key, v string) string {
	if v == "" {
		return v
	}
	if SecretName(key) {
		return Mask
	}
	return Text(v)
}

// Text masks Bearer/Basic credentials and secret-looking key=value pairs in
// free text.
func Text(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	s = authHeader.ReplaceAllString(s, "${1}"+Mask)
	s = cookieHeader.ReplaceAllString(s, "${1}"+Mask)
	s = authScheme.ReplaceAllString(s, "${1} "+Mask)
	return secretPair.ReplaceAllString(s, "${1}"+Mask)
}

// mayHoldSecret is a cheap pre-check so that the regexes run only on values
// that could match.
func mayHoldSecret(s string) bool {
	l := strings.ToLower(s)
	for _, w := range []string{"bearer", "basic", "key", "token", "passw", "secret", "authorization", "cookie"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

var ansi = regexp.MustCompile(`\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])`)

// Sanitize makes attacker-controlled text safe to display: ANSI escape
// sequences, control characters (C0, C1, DEL), and bidirectional and
// zero-width format characters are removed; runs of whitespace become one
// space; the result is cut to at most max bytes without splitting a UTF-8
// character, with "…" marking a cut (max <= 0: no limit). Invalid UTF-8 bytes
// become U+FFFD.
func Sanitize(s string, max int) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.ReplaceAllString(s, "")
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			r = '\uFFFD'
		case unicode.IsSpace(r):
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		}
		space = false
		b.WriteRune(r)
	}
	out := strings.TrimRight(b.String(), " ")
	if max > 0 && len(out) > max {
		const ell = "…"
		cut := max - len(ell)
		if cut < 0 {
			cut = 0
		}
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + ell
		if len(out) > max { // max smaller than the ellipsis itself
			out = out[:0]
		}
	}
	return out
}

// ASCII is Sanitize followed by replacing every non-ASCII character with
// '?', for places that accept only printable ASCII (SNS subjects). The
// result is at most max bytes, cut with "..." when shortened.
func ASCII(s string, max int) string {
	s = Sanitize(s, 0)
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	out := b.String()
	if max > 0 && len(out) > max {
		if max > 3 {
			out = out[:max-3] + "..."
		} else {
			out = out[:max]
		}
	}
	return out
}
