package redact

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/testutil"
)

// The pattern each prefiltered shape runs, for TestPrefiltersNecessary.
var shapePatterns = map[string]*regexp.Regexp{
	"authorization header":        authHeader,
	"cookie header":               cookieHeader,
	"bearer or basic credential":  authScheme,
	"URL user password":           urlPassword,
	"secret key=value pair":       secretPair,
	"code or sig query parameter": queryCode,
	"AWS access key id":           awsKeyID,
	"live or test key":            liveKey,
	"key after its name":          keyPhrase,
	"refused key quoted":          refusedKey,
}

// genWords are the pieces of the generated texts: every word of every
// pattern (and parts of them, so that the generator also joins them in
// ways the patterns do not list), separators, quotes, whitespace (\v is
// not \s), '=' and ':', value-like runs, and non-ASCII characters that
// (?i) or strings.ToLower fold to ASCII letters.
var genWords = []string{
	"api", "key", "apikey", "api_key", "api-key", "api key", "x-api-key", "access", "token", "access_token",
	"refresh", "id", "id_token", "client", "client_secret", "secret", "password", "passwd", "passw",
	"authorization", "proxy-", "proxy-authorization", "set-", "cookie", "set-cookie", "credential",
	"signature", "session", "session_id", "sessionid", "key_id", "keyid", "access_key_id",
	"bearer", "basic", "invalid", "unknown", "wrong", "bad", "expired", "revoked", "hash",
	"code", "sig", "code=", "sig=", "AKIA", "ASIA", "akia", "sk", "pk", "rk", "live", "test",
	"_live_", "-test-", "://", "https://", "redis://", "@", "x-amz-", "[REDACTED]", "Token", "Digest",
}

var genSeps = []string{
	"_", "-", " ", "  ", "\t", "\n", "\f", "\r", "\v", "=", ":", "\"", "'", `\"`, "%20", "+", "(", ")",
	",", ";", "}", "&", "?", "#", "/", ".", "~", ": ", " = ", "=\"", "\": \"", " (hash: ", "%2F",
}

var genOdd = []string{
	"\u212a", "\u017f", "\u0130", "é", "ß", "\u00a0", "\u2028", "\xff", "\xc3", "K", "s", "ǅ",
	"\u212aey", "api_\u212aey", "to\u212aen", "\u017fecret", "pa\u017f\u017fword", "\u017fe\u017f\u017fion_id", "ba\u017fic", "coo\u212aie",
}

func randCase(r *rand.Rand, w string) string {
	switch r.IntN(4) {
	case 0:
		return strings.ToUpper(w)
	case 1:
		b := []byte(w)
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = lower(b[i])
			} else if 'a' <= b[i] && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	}
	return w
}

const valueChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/="

// genToken is one random piece.
func genToken(r *rand.Rand, odd bool) string {
	switch n := r.IntN(20); {
	case n < 8:
		return randCase(r, genWords[r.IntN(len(genWords))])
	case n < 14:
		return genSeps[r.IntN(len(genSeps))]
	case n < 18:
		b := make([]byte, r.IntN(16))
		for i := range b {
			b[i] = valueChars[r.IntN(len(valueChars))]
		}
		return string(b)
	case n < 19 && odd:
		return genOdd[r.IntN(len(genOdd))]
	default:
		if odd {
			return string([]byte{byte(r.IntN(256))})
		}
		return string([]byte{byte(r.IntN(128))})
	}
}

// genText joins random pieces; odd admits non-ASCII ones.
func genText(r *rand.Rand, odd bool) string {
	var b strings.Builder
	for range 1 + r.IntN(12) {
		b.WriteString(genToken(r, odd))
	}
	return b.String()
}

// seeds are texts each pattern matches (or nearly): mutated, they give
// texts at the edge of a match.
var seeds = []string{
	"Authorization: Bearer abc.def", `"authorization": "Token x1"`, "Proxy-Authorization=Digest abc",
	"authorization:AWS4-HMAC-SHA256%20Credential=x", "header Authorization: Bearer eyJhbGciOi.x.y sent",
	"Cookie: a=1; b=2", "set-cookie='sid=xyz'", "Bearer abc", "basic%20YQ==", "bearer+tok",
	`Bearer realm="mcp", error="invalid_token"`, `got "Basic realm=\"mcp\""`, "Authorization header must use Bearer scheme",
	"https://u:pw@h/", "redis://:pw@cache:6379/0", "api_key=sk123", `{'token': 'abc123', 'tool': 'x'}`,
	"/b/o?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2026&X-Amz-Signature=fe5f80f7", "session-id: 9f8",
	"aws_access_key_id=abc123XYZ", "client-secret : 'x'", "passwd\t=\tx", "id_token=x", "signature=abc",
	"/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "&sig=xyz", "key AKIAIOSFODNN7EXAMPLE denied",
	"ASIAY34FZKBOKMUTVV7A", "sk_live_abcdef123", "rk-test-XXXXXXXX", "rejected rk_test_51Habc9xyz for tenant 4",
	"Invalid API key q9XvT2mLpa (expired)", "token abcd1234efgh", "password Hunter22xx", "api-key\tABCDEFGH1",
	"access token 12345678a", "unknown token: qwertyuiop, closing", "wrong api_key  :abcdefghi",
	"bad token\tzzzzzzzzz", "expired apikey ;;;;;;;;", "Invalid API key (hash: 9c1d4f2a)",
	"No Authorization header provided", "Invalid API key sk-live-RECOGNISABLE-0123", "revoked token :(abcdefgh",
	"see x://@y and ftp://u:p@host",
}

// oddSeeds are texts where a pattern matches a word only through (?i)'s
// Unicode folding (K KELVIN SIGN, LONG S), some after an earlier shape's
// match, for the texts with non-ASCII characters.
var oddSeeds = []string{
	"api_\u212aey=sk123", "Bearer abcdef api_\u212aey=sk123", "\u017fecret: hunter2",
	"Cookie: a=1 to\u212aen abcdefgh1", "https://u:pw@h/ pa\u017f\u017fword=x", "ba\u017fic YWxhZGRpbjpvcGVu",
	"Invalid API \u212aey q9XvT2mLpa (expired)", "sk_live_abcdef123 \u017fession_id=9f8",
	"x AKIAIOSFODNN7EXAMPLE unknown to\u212aen: qwertyuiop", "é token abcd1234efgh",
}

// mutate edits s one to four times: a piece inserted, a byte deleted,
// replaced or its case flipped.
func mutate(r *rand.Rand, s string, odd bool) string {
	b := []byte(s)
	for range 1 + r.IntN(4) {
		i := 0
		if len(b) > 0 {
			i = r.IntN(len(b) + 1)
		}
		switch r.IntN(4) {
		case 0:
			b = append(b[:i:i], append([]byte(genToken(r, odd)), b[i:]...)...)
		case 1:
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		case 2:
			if i < len(b) {
				c := byte(r.IntN(128))
				if odd {
					c = byte(r.IntN(256))
				}
				b[i] = c
			}
		default:
			if i < len(b) {
				b[i] ^= 0x20
			}
		}
	}
	return string(b)
}

// texts returns n generated texts: half joined from pieces, half mutated
// seeds (odd: oddSeeds too).
func texts(r *rand.Rand, n int, odd bool) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		if r.IntN(2) == 0 {
			out = append(out, genText(r, odd))
		} else {
			seed := seeds[r.IntN(len(seeds))]
			if odd && r.IntN(2) == 0 {
				seed = oddSeeds[r.IntN(len(oddSeeds))]
			}
			out = append(out, mutate(r, seed, odd))
		}
	}
	return out
}

func textWithout(s string) string {
	prefilter = false
	defer func() { prefilter = true }()
	return Text(s)
}

// TestPrefiltersNecessary: on ASCII text, hintedShapes finds the hints
// that strings.ToLower and strings.Contains find, and whenever a shape's
// pattern matches, its prefilter holds (and, so that the test is not vacuous, the
// generated texts match every pattern many times).
func TestPrefiltersNecessary(t *testing.T) {
	for _, sh := range shapes {
		if shapePatterns[sh.name] == nil {
			t.Fatalf("shape %q: no pattern in shapePatterns", sh.name)
		}
	}
	n := 200_000
	if testing.Short() || raceOn {
		n = 50_000
	}
	r := rand.New(rand.NewPCG(3, 5))
	matched := map[string]int{}
	for _, s := range append(texts(r, n, false), seeds...) {
		hinted, l := hintedShapes(s), strings.ToLower(s)
		for i, sh := range shapes {
			if got, want := hinted&(1<<i) != 0, containsAny(l, sh.hints); got != want {
				t.Errorf("shape %q: hintedShapes(%q) says %v, the hints in its lowercase %v", sh.name, s, got, want)
			}
			if sh.pre == nil || !shapePatterns[sh.name].MatchString(s) {
				continue
			}
			matched[sh.name]++
			if !sh.pre(s) {
				t.Errorf("shape %q: the pattern matches %q, the prefilter says it cannot", sh.name, s)
			}
		}
	}
	for _, sh := range shapes {
		if sh.pre != nil && matched[sh.name] < 100 {
			t.Errorf("shape %q: only %d generated texts match its pattern", sh.name, matched[sh.name])
		}
	}
	t.Logf("matches per shape over %d texts: %v", n, matched)
}

// TestTextPrefilterExact: Text with prefilters (and the ASCII hint search)
// equals Text without, on generated texts, ASCII or not, on the cases of
// the other tests and on the secret-bearing fields of the property test.
func TestTextPrefilterExact(t *testing.T) {
	n := 100_000
	if testing.Short() || raceOn {
		n = 30_000
	}
	r := rand.New(rand.NewPCG(9, 2))
	in := append(texts(r, n/2, false), texts(r, n/2, true)...)
	in = append(in, seeds...)
	in = append(in, oddSeeds...)
	for range 20_000 {
		f := testutil.NewSecretField(r)
		in = append(in, f.Value)
	}
	for _, c := range textCases {
		in = append(in, c.in, c.want)
	}
	for _, c := range valueCases {
		in = append(in, c.in, c.want)
	}
	changed := 0
	for _, s := range in {
		got, want := Text(s), textWithout(s)
		if got != want {
			t.Errorf("Text(%q) = %q with prefilters, %q without", s, got, want)
		}
		if want != s {
			changed++
		}
	}
	t.Logf("%d texts, %d of them redacted", len(in), changed)
}

func FuzzTextPrefilter(f *testing.F) {
	for _, s := range append(seeds, oddSeeds...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Text(s), textWithout(s); got != want {
			t.Errorf("Text(%q) = %q with prefilters, %q without", s, got, want)
		}
	})
}
