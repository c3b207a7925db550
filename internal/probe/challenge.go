package probe

import "strings"

// challenge is one parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string
	params map[string]string // keys lowercased
}

// parseChallenges parses WWW-Authenticate values (RFC 9110 §11.6.1):
// challenges of a scheme followed by auth-params, comma-separated, with
// quoted strings. It is lenient: what it cannot parse it skips.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		s := v
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			tok, rest := token(s)
			if tok == "" {
				break
			}
			rest = strings.TrimLeft(rest, " \t")
			if strings.HasPrefix(rest, "=") && len(out) > 0 {
				// An auth-param of the current challenge.
				val, r := paramValue(rest[1:])
				out[len(out)-1].params[strings.ToLower(tok)] = val
				s = r
				continue
			}
			out = append(out, challenge{scheme: tok, params: map[string]string{}})
			s = rest
		}
	}
	return out
}

func token(s string) (string, string) {
	i := 0
	for i < len(s) && !strings.ContainsRune(" \t,=\"", rune(s[i])) {
		i++
	}
	return s[:i], s[i:]
}

// paramValue reads a token or a quoted string after "=".
func paramValue(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(s, `"`) {
		i := strings.IndexAny(s, ", \t")
		if i < 0 {
			return s, ""
		}
		return s[:i], s[i:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

// bearer returns the Bearer challenge among values, if any.
func bearer(values []string) (challenge, bool) {
	for _, c := range parseChallenges(values) {
		if strings.EqualFold(c.scheme, "Bearer") {
			return c, true
		}
	}
	return challenge{}, false
}
