package config

import (
	"fmt"
	"strings"
)

// expand replaces the environment references in one scalar value:
//
//	${NAME}           the value of NAME; an error if NAME is not set
//	${NAME:-default}  the value of NAME, or default if NAME is unset or empty
//	$$                a literal $
//
// Any other $ is kept as it is, so regexes ending in $ need no escaping.
// NAME is a letter or _ followed by letters, digits and _. A default is
// taken literally up to the first }, and may not itself hold a reference.
//
// vars reports whether any reference was replaced: such a value may be a
// secret and must not be shown in messages. errs lists every problem, each
// naming the reference as written, never a value.
func expand(s string, getenv func(string) (string, bool)) (out string, vars bool, errs []string) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch s[1] {
		case '$':
			b.WriteByte('$')
			s = s[2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[1:]
			continue
		}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			errs = append(errs, `unterminated "${" (write "$${" for a literal "${")`)
			break
		}
		ref := s[:end+1]
		s = s[end+1:]
		name, def, hasDef, msg := parseRef(ref[2:end])
		if msg != "" {
			errs = append(errs, fmt.Sprintf("invalid reference %q: %s", ref, msg))
			continue
		}
		vars = true
		v, ok := getenv(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			errs = append(errs, fmt.Sprintf("environment variable %q is not set (write \"${%s:-default}\" for a default)", name, name))
			continue
		}
		b.WriteString(v)
	}
	return b.String(), vars, errs
}

// parseRef splits the inside of ${…} into a name and an optional default;
// msg says what is wrong with it, if anything.
func parseRef(inner string) (name, def string, hasDef bool, msg string) {
	n := 0
	for n < len(inner) && isNameByte(inner[n], n == 0) {
		n++
	}
	name, rest := inner[:n], inner[n:]
	switch {
	case name == "":
		return "", "", false, "a name is a letter or _ followed by letters, digits and _"
	case rest == "":
		return name, "", false, ""
	case strings.HasPrefix(rest, ":-"):
		def = rest[2:]
		if strings.Contains(def, "${") {
			return "", "", false, "a default cannot hold another reference"
		}
		return name, def, true, ""
	case rest[0] == ':' || rest[0] == '-' || rest[0] == '=' || rest[0] == '?':
		return "", "", false, `the only form with a default is "${NAME:-default}"`
	}
	return "", "", false, "a name is a letter or _ followed by letters, digits and _"
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9':
		return !first
	}
	return false
}
