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
	"access_key", "accesskey", "access-key", // aws_access_key_id, AccessKeyId
}

var (
	// The credential of an Authorization header, whatever its scheme
	// ("Token x", "Digest x", "AWS4-HMAC-SHA256 x").
	authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?[A-Za-z][A-Za-z0-9_-]*(?:\s+|%20|\+))[^\s"',;}&]+`)
	// Every pair of a Cookie or Set-Cookie header, not only the first.
	cookieHeader = regexp.MustCompile(`(?i)((?:set-)?cookie["']?\s*[:=]\s*["']?)[^\s"',;}&]+(?:;\s*[^\s"',;}&]+)*`)
	// Bearer/Basic credentials anywhere in a value (auth-params such as
	// realm="mcp" are not credentials: see schemeCredential).
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+|%20|\+)([A-Za-z0-9\-._~+/]+=*)`)
	// key=value and "key": "value" pairs with secret-looking keys inside
	// free text (query strings, logged headers, dict reprs).
	// X-Amz-Credential and X-Amz-Signature of a presigned URL are caught by
	// "credential" and "signature", and aws_access_key_id by "access_key".
	secretPair = regexp.MustCompile(`(?i)((?:api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|token|password|passwd|secret|client[_-]?secret|authorization|cookie|credential|signature|session[_-]?id|access[_-]?key(?:[_-]?id)?)["']?\s*(?:=|:)\s*["']?)([^&\s"',;}]+)`)
	// Query parameters too short a word to be keys anywhere: an OAuth
	// authorization code (?code=) and a URL signature (&sig=).
	queryCode = regexp.MustCompile(`(?i)([?&;](?:code|sig)=)[^&\s"'#;]+`)
	// AWS access key ids (long-term AKIA…, temporary ASIA…) anywhere.
	awsKeyID = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)
	// The password of a URL's user information (https://user:pw@host): up
	// to the last "@" of the word, so a password holding "@" or "/" is
	// masked whole (an "@" further on masks more than needed, never less).
	urlPassword = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:]*:)\S*@`)
	// Keys of the sk_live_/pk_test_ family written anywhere.
	liveKey = regexp.MustCompile(`\b(?:sk|pk|rk)[-_](?:live|test)[-_][A-Za-z0-9_-]{6,}`)
	// A key written after the words that name it, separated by spaces
	// only ("Invalid API key sk-...", "token abcd1234..."); the value must
	// look like a key (see phraseCredential).
	keyPhrase = regexp.MustCompile(`(?i)\b((?:api[ _-]?key|access[ _-]?token|token|secret|password)\s+)([A-Za-z0-9][A-Za-z0-9\-._~+/=]{7,})`)
	// A server's refusal quoting the credential it refused ("Invalid API
	// key abcdefgh", "unknown token: …"), whatever it looks like; the MCP
	// server's own form, "Invalid API key (hash: 9c1d4f2a)", is kept.
	refusedKey = regexp.MustCompile(`(?i)\b((?:invalid|unknown|wrong|bad|expired|revoked)\s+(?:api[ _-]?key|token)\s*:?\s+)[^\s(][^\s,;]{7,}`)
)

// A shape is one form of credential in free text. Text tries each shape
// whose hint (a lowercase substring) the text contains, in order; to
// recognise another form, append a shape.
//
// pre, when set, is a cheap necessary condition for the shape's pattern to
// match: pre(s) false means replace(s) == s, so Text skips the pattern.
// Text asks it only of pure-ASCII text, where (?i) folds ASCII letters
// only; (?i) also folds U+212A KELVIN SIGN to k and U+017F LONG S to s, so
// text with a non-ASCII byte runs every hinted pattern. pre must hold
// whenever the pattern matches ASCII text (TestPrefiltersNecessary,
// TestTextPrefilterExact).
type shape struct {
	name    string
	hints   []string
	pre     func(string) bool
	replace func(string) string
}

// template replaces every match of re by the expansion of tmpl.
func template(re *regexp.Regexp, tmpl string) func(string) string {
	return func(s string) string { return re.ReplaceAllString(s, tmpl) }
}

// The words that end the key of a secretPair match, lowercase: every
// alternative of its key group ends with one of them ("token" ends
// access_token, refresh-token, id_token; "secret" ends client_secret; the
// ids are session[_-]?id and access[_-]?key[_-]?id).
var secretPairEnds = []string{
	"apikey", "api_key", "api-key", "accesskey", "access_key", "access-key",
	"token", "password", "passwd", "secret", "authorization", "cookie", "credential", "signature",
	"sessionid", "session_id", "session-id", "keyid", "key_id", "key-id",
}

var shapes = []shape{
	{"authorization header", []string{"authorization"}, func(s string) bool { return keyBeforeSep(s, []string{"authorization"}) },
		template(authHeader, "${1}"+Mask)},
	{"cookie header", []string{"cookie"}, func(s string) bool { return keyBeforeSep(s, []string{"cookie"}) },
		template(cookieHeader, "${1}"+Mask)},
	{"bearer or basic credential", []string{"bearer", "basic"}, schemeBeforeValue, schemeCredential},
	{"URL user password", []string{"://"}, atAfterScheme, template(urlPassword, "${1}"+Mask+"@")},
	{"secret key=value pair", []string{"key", "token", "passw", "secret", "authorization", "cookie", "credential", "signature", "session"},
		func(s string) bool { return keyBeforeSep(s, secretPairEnds) }, template(secretPair, "${1}"+Mask)},
	{"code or sig query parameter", []string{"code=", "sig="}, nil, template(queryCode, "${1}"+Mask)},
	{"AWS access key id", []string{"akia", "asia"}, func(s string) bool { return strings.Contains(s, "AKIA") || strings.Contains(s, "ASIA") },
		template(awsKeyID, Mask)},
	{"live or test key", []string{"_live", "-live", "_test", "-test"}, liveOrTest, template(liveKey, Mask)},
	{"key after its name", []string{"key", "token", "secret", "password"}, phraseBeforeValue, phraseCredential},
	{"refused key quoted", []string{"key", "token"}, refusedBeforeValue, template(refusedKey, "${1}"+Mask)},
}

// schemeCredential masks the credential after "Bearer " or "Basic ", but
// not an auth-param of a challenge: a token followed by "=" and a value
// (realm="mcp", error=invalid_token, or realm=\"mcp\" once quoted for
// display) is a parameter, while a credential's "=" padding ends it.
func schemeCredential(s string) string {
	return replaceMatches(authScheme, s, func(m []int) string {
		end := m[1]
		rest := s[end:]
		if strings.HasSuffix(s[m[6]:m[7]], "=") && rest != "" && (rest[0] == '"' || strings.HasPrefix(rest, `\"`) || isToken68(rest[0])) {
			return s[m[0]:m[1]]
		}
		return s[m[2]:m[3]] + " " + Mask
	})
}

// phraseCredential masks a key-like word after "API key", "token", etc.:
// a word with both a letter and a digit (keys are random; prose is not).
func phraseCredential(s string) string {
	return replaceMatches(keyPhrase, s, func(m []int) string {
		v := s[m[4]:m[5]]
		if !strings.ContainsAny(v, "0123456789") || !strings.ContainsFunc(v, unicode.IsLetter) {
			return s[m[0]:m[1]]
		}
		return s[m[2]:m[3]] + Mask
	})
}

// replaceMatches replaces each match of re in s by f(submatch indexes).
func replaceMatches(re *regexp.Regexp, s string, f func([]int) string) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m[0]])
		b.WriteString(f(m))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// isToken68 reports whether c may appear in a credential (RFC 9110
// token68, plus "=").
func isToken68(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0
}

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

// Text masks credentials in free text: Authorization and Cookie headers,
// Bearer/Basic credentials, URL passwords, secret-looking key=value pairs
// (presigned URLs' X-Amz-Credential and X-Amz-Signature, session ids,
// OAuth codes), AWS access key ids, sk_live_-style keys, and key-like
// words after "API key", "token", "secret" or "password" (the shapes
// above). Text(Text(s)) == Text(s): state stores redacted text, and an
// alert rendered from it is the alert rendered from the original.
func Text(s string) string {
	if !hasASCIILetter(s) { // every shape names itself in letters: IPs, numbers
		return s
	}
	ascii := prefilter && isASCII(s)
	var hinted uint32 // ascii: the shapes whose hints s holds
	if ascii {
		hinted = hintedShapes(s)
	}
	var l string
	for i := range shapes {
		sh := &shapes[i]
		if ascii {
			if hinted&(1<<i) == 0 || sh.pre != nil && !sh.pre(s) {
				continue
			}
		} else {
			if l == "" {
				l = strings.ToLower(s)
			}
			if !containsAny(l, sh.hints) {
				continue
			}
		}
		if t := sh.replace(s); t != s {
			s, l = t, ""
			if ascii = prefilter && isASCII(s); ascii {
				hinted = hintedShapes(s)
			}
		}
	}
	return s
}

// prefilter, on, lets Text find the hints of ASCII text without
// lowercasing it (hintedShapes) and skip the patterns that cannot match
// (shape.pre). Tests switch it off to compare with Text as it was without.
var prefilter = true

func containsAny(l string, hints []string) bool {
	for _, h := range hints {
		if strings.Contains(l, h) {
			return true
		}
	}
	return false
}

func hasASCIILetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

// MinSubstringKey is the shortest key that Key masks wherever it occurs;
// a shorter one is masked only where it stands as a whole token.
const MinSubstringKey = 8

// Key masks every occurrence of key in s. A key shorter than
// MinSubstringKey is masked only where it is a whole token (no letter,
// digit or one of "-._~+/=" on either side): masking a two-letter key
// inside every word would mangle the text and, by the pattern of the
// masks, reveal the key. An empty key leaves s unchanged.
func Key(s, key string) string {
	if key == "" || !strings.Contains(s, key) {
		return s
	}
	if len(key) >= MinSubstringKey {
		return strings.ReplaceAll(s, key, Mask)
	}
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i := strings.Index(s[from:], key)
		if i < 0 {
			break
		}
		i += from
		j := i + len(key)
		from = j
		if (i == 0 || !isToken68(s[i-1])) && (j == len(s) || !isToken68(s[j])) {
			b.WriteString(s[last:i])
			b.WriteString(Mask)
			last = j
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// URL masks the user information of a URL-like string for an error
// message: everything between "://" (or the start) and the last "@"
// ("https://user:pw@host/" becomes "https://[REDACTED]@host/"). It does not
// parse s, so it works on strings url.Parse refuses (a password holding
// "/", "?" or "#"); an "@" in a query masks more than needed, never less.
// A string without "@" is returned unchanged.
func URL(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	at := strings.LastIndexByte(s[start:], '@')
	if at < 0 {
		return s
	}
	return s[:start] + Mask + s[start+at:]
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
