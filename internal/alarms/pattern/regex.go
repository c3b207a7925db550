package pattern

import (
	"regexp"
	"strings"
)

// CloudWatch accepts only a small regex dialect inside %...%: ASCII letters
// and digits, the symbols below, and the operators ^ $ ? [ ] { } | \ * + .
// (no parentheses, no multi-byte characters). secwatch is stricter where
// RE2 and CloudWatch could read the same text differently: inside a
// bracket expression a '[' must be escaped (no nested or POSIX classes),
// and the only escapes are a backslash before an operator or symbol (a
// literal) and \d \D \w \W (ASCII in both dialects).
const (
	regexSymbols   = ":_#=@/;,- "
	regexOperators = "^$?[]{}|\\*+."
	regexClasses   = "dDwW"
)

// CheckRegex reports why src cannot be used as a CloudWatch %regex%, as an
// offset into src and a message, or -1 when it can.
func CheckRegex(src string) (int, string) {
	if src == "" {
		return 0, "empty regex"
	}
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c >= 0x80:
			return i, "multi-byte characters are not supported in a CloudWatch regex"
		case c == '\\':
			if i+1 >= len(src) {
				return i, "trailing backslash"
			}
			e := src[i+1]
			if !strings.ContainsRune(regexOperators+regexSymbols, rune(e)) && !strings.ContainsRune(regexClasses, rune(e)) {
				return i, "escape \\" + string(e) + " is not supported in a CloudWatch regex (only \\d \\D \\w \\W and escaped operators)"
			}
			i++
		case c == '(' || c == ')':
			return i, "parentheses are not supported in a CloudWatch regex"
		case c == '[':
			if inClass {
				return i, "'[' inside a bracket expression must be escaped"
			}
			inClass = true
			// A ']' right after '[' or '[^' is a literal in RE2 but may not be
			// in CloudWatch's dialect: require it escaped.
			j := i + 1
			if j < len(src) && src[j] == '^' {
				j++
			}
			if j < len(src) && src[j] == ']' {
				return j, "a ']' at the start of a bracket expression must be escaped"
			}
		case c == ']':
			inClass = false
		case isTermByte(c) || strings.IndexByte(regexSymbols+regexOperators, c) >= 0:
		default:
			return i, "character " + quoteByte(c) + " is not supported in a CloudWatch regex"
		}
	}
	return -1, ""
}

func quoteByte(c byte) string {
	if c < 0x20 || c == 0x7f {
		return "0x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
	}
	return "'" + string(c) + "'"
}

// parseRegex reads the %regex% at s[i] == '%' and returns the index after
// the closing '%'.
func parseRegex(s string, i int) (*regexp.Regexp, int, error) {
	end := strings.IndexByte(s[i+1:], '%')
	if end < 0 {
		return nil, 0, errAt(i, "unterminated %%regex%%")
	}
	src := s[i+1 : i+1+end]
	if off, msg := CheckRegex(src); off >= 0 {
		return nil, 0, errAt(i+1+off, "%s", msg)
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, 0, errAt(i+1, "invalid regex: %v", err)
	}
	return re, i + 2 + end, nil
}
