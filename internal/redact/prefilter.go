package redact

import "strings"

// Prefilters of the shapes (shape.pre) and the ASCII case-insensitive
// search Text uses on ASCII text. Each prefilter reads a necessary
// condition off its pattern and is exact only on ASCII text: there (?i)
// folds A-Z to a-z and nothing else, \s is [\t\n\f\r ] and \b is an ASCII
// word boundary. Words are lowercase ASCII.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lower folds an ASCII upper-case letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isSpace is RE2's \s.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// hasPrefixFold reports whether s begins with word, ASCII letters folded.
func hasPrefixFold(s, word string) bool {
	if len(s) < len(word) {
		return false
	}
	for i := 0; i < len(word); i++ {
		if lower(s[i]) != word[i] {
			return false
		}
	}
	return true
}

func hasSuffixFold(s, word string) bool {
	return len(s) >= len(word) && hasPrefixFold(s[len(s)-len(word):], word)
}

// indexFold is the index of the first word in s from position from,
// ASCII letters folded, or -1.
func indexFold(s, word string, from int) int {
	c0 := word[0]
	u0 := c0
	if 'a' <= c0 && c0 <= 'z' {
		u0 = c0 - ('a' - 'A')
	}
	for i := from; i+len(word) <= len(s); i++ {
		if (s[i] == c0 || s[i] == u0) && hasPrefixFold(s[i+1:], word[1:]) {
			return i
		}
	}
	return -1
}

// keyBeforeSep reports whether s holds one of ends followed by an optional
// quote, whitespace and '=' or ':': the prefix `KEY["']?\s*[:=]` of the
// authorization, cookie and key=value patterns, whose KEY alternatives each
// end with one of ends. It looks back from every '=' and ':'.
func keyBeforeSep(s string, ends []string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '=' && c != ':' {
			continue
		}
		j := i
		for j > 0 && isSpace(s[j-1]) {
			j--
		}
		if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') { // a key ends with a letter, never a quote
			j--
		}
		for _, e := range ends {
			if hasSuffixFold(s[:j], e) {
				return true
			}
		}
	}
	return false
}

// isCredChar is authScheme's [A-Za-z0-9\-._~+/].
func isCredChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~+/", c) >= 0
}

// schemeBeforeValue: authScheme, `(bearer|basic)(\s+|%20|\+)[A-Za-z0-9\-._~+/]`,
// needs "bearer" or "basic", a separator and a credential character.
func schemeBeforeValue(s string) bool {
	for _, w := range []string{"bearer", "basic"} {
		for i := indexFold(s, w, 0); i >= 0; i = indexFold(s, w, i+1) {
			j := i + len(w)
			switch {
			case j < len(s) && isSpace(s[j]):
				for j < len(s) && isSpace(s[j]) {
					j++
				}
			case j < len(s) && s[j] == '+':
				j++
			case strings.HasPrefix(s[j:], "%20"):
				j += 3
			default:
				continue
			}
			if j < len(s) && isCredChar(s[j]) {
				return true
			}
		}
	}
	return false
}

// atAfterScheme: urlPassword needs "://" and an "@" after it.
func atAfterScheme(s string) bool {
	i := strings.Index(s, "://")
	return i >= 0 && strings.IndexByte(s[i+3:], '@') >= 0
}

// liveOrTest: liveKey, which is case-sensitive, needs "-live", "_live",
// "-test" or "_test" as written.
func liveOrTest(s string) bool {
	return strings.Contains(s, "_live") || strings.Contains(s, "-live") ||
		strings.Contains(s, "_test") || strings.Contains(s, "-test")
}

// The words that end the name of a keyPhrase match: api[ _-]?key, token
// (access[ _-]?token ends with it), secret and password.
var phraseEnds = []string{"apikey", "api key", "api_key", "api-key", "token", "secret", "password"}

// isKeyChar is keyPhrase's value class [A-Za-z0-9\-._~+/=].
func isKeyChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~+/=", c) >= 0
}

// phraseBeforeValue: keyPhrase, `NAME\s+[A-Za-z0-9][A-Za-z0-9\-._~+/=]{7,}`,
// needs a name from phraseEnds, a run of whitespace (the whole run, since
// the value starts with a letter or digit) and eight value characters, the
// first a letter or digit. It looks at every run of whitespace.
func phraseBeforeValue(s string) bool {
	for i := 1; i < len(s); i++ {
		if !isSpace(s[i]) || isSpace(s[i-1]) {
			continue
		}
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j == len(s) || !isAlnum(s[j]) || runOf(s[j:], isKeyChar, 8) < 8 {
			continue
		}
		for _, e := range phraseEnds {
			if hasSuffixFold(s[:i], e) {
				return true
			}
		}
	}
	return false
}

// runOf is the number of leading bytes of s, at most max, that ok accepts.
func runOf(s string, ok func(byte) bool, max int) int {
	n := 0
	for n < len(s) && n < max && ok(s[n]) {
		n++
	}
	return n
}

// isRefusedChar is refusedKey's [^\s,;].
func isRefusedChar(c byte) bool { return !isSpace(c) && c != ',' && c != ';' }

// refusedBeforeValue: refusedKey, `(key|token)\s*:?\s+[^\s(][^\s,;]{7,}`
// after the words of refusal, needs "key" or "token", then either
// whitespace or whitespace, ':' and whitespace, then a character other
// than '(' (the MCP server's "(hash: …)") and seven more. The whitespace
// runs are whole runs: what follows each is not whitespace. (With no ':'
// taken, the value may start with one: "key :abcdefgh".)
func refusedBeforeValue(s string) bool {
	for _, w := range []string{"key", "token"} {
		for i := indexFold(s, w, 0); i >= 0; i = indexFold(s, w, i+1) {
			e := i + len(w)
			j := e
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			if j > e && j < len(s) && s[j] != '(' && runOf(s[j+1:], isRefusedChar, 7) == 7 {
				return true
			}
			if j < len(s) && s[j] == ':' {
				k := j + 1
				for k < len(s) && isSpace(s[k]) {
					k++
				}
				if k > j+1 && k < len(s) && s[k] != '(' && runOf(s[k+1:], isRefusedChar, 7) == 7 {
					return true
				}
			}
		}
	}
	return false
}

// A hint and the shapes (bits of their index) it sends to their patterns.
type hintShapes struct {
	hint   string
	shapes uint32
}

// hintsByFirst holds every hint of the shapes under its first byte.
var hintsByFirst = func() (t [256][]hintShapes) {
	if len(shapes) > 32 {
		panic("redact: more shapes than bits in hintedShapes's set")
	}
	add := func(h string, bit uint32) {
		hs := t[h[0]]
		for j := range hs {
			if hs[j].hint == h {
				hs[j].shapes |= bit
				return
			}
		}
		t[h[0]] = append(hs, hintShapes{h, bit})
	}
	for i, sh := range shapes {
		for _, h := range sh.hints {
			add(h, 1<<i)
		}
	}
	return t
}()

// hintedShapes returns the set of shapes (bit i: shapes[i]) with a hint
// that ASCII s holds, letters folded: what strings.Contains of each hint
// in strings.ToLower(s) says, in one pass over s.
func hintedShapes(s string) uint32 {
	var set uint32
	for i := 0; i < len(s); i++ {
		for _, h := range hintsByFirst[lower(s[i])] {
			if set&h.shapes != h.shapes && hasPrefixFold(s[i:], h.hint) {
				set |= h.shapes
			}
		}
	}
	return set
}
