package format

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// clfParser is the clf format (Apache/nginx Common and Combined Log
// Format) and, with nginx set, the nginx format: combined plus nginx's
// optional "$http_x_forwarded_for" and $request_time.
//
//	203.0.113.7 - alice [10/Oct/2026:13:55:36 +0200] "GET /a?b=1 HTTP/1.1" 401 172 "-" "curl/8.5.0"
//
// Fields: client_ip, ident, user, request, method, path, query,
// protocol, status, bytes, referrer, user_agent (and x_forwarded_for,
// request_time). A "-" leaves the field absent. A request that is not
// "METHOD TARGET PROTOCOL" (a TLS handshake sent to the plain port) is
// kept whole in request only. Quoted values keep nginx's \xNN escapes
// as written; \" and \\ are unescaped.
type clfParser struct {
	nginx bool
	clock
}

var (
	clfUnescape = strings.NewReplacer(`\"`, `"`, `\\`, `\`)
	errCLFQuote = errors.New(`want a quoted value "…"`)
	clfFields   = []string{"client_ip", "ident", "user"}
)

func (p *clfParser) Parse(line []byte, ev *event.Event) error {
	s, lead, err := lineString(line)
	if err != nil {
		return err
	}
	at := func(i int, what string, err error) error {
		if err != nil {
			return fmt.Errorf("invalid %s at byte %d: %w", what, lead+i+1, err)
		}
		return fmt.Errorf("%s missing at byte %d", what, lead+i+1)
	}
	i := 0
	for _, name := range clfFields {
		i = min(i, len(s))
		w := word(s[i:])
		if w == "" {
			return at(i, name, nil)
		}
		addDash(ev, name, w)
		i += len(w) + 1
	}
	if i >= len(s) {
		return at(len(s), "time", nil)
	}
	if s[i] != '[' {
		return at(i, "time", errors.New("want [10/Oct/2026:13:55:36 +0000]"))
	}
	end := strings.IndexByte(s[i:], ']')
	if end < 0 {
		return at(i, "time", errors.New("missing ']'"))
	}
	t, ok := parseCLFTime(s[i+1 : i+end])
	if !ok || !event.InRange(t) {
		return at(i, "time", fmt.Errorf("%q is not like 10/Oct/2026:13:55:36 +0000", clip(s[i+1:i+end], 32)))
	}
	i += end + 1
	req, n, err := quoted(s, i+1)
	if err != nil {
		return at(i+1, "request", err)
	}
	i = n
	addDash(ev, "request", req)
	splitRequest(ev, req)
	for _, name := range []string{"status", "bytes"} {
		w := word(strings.TrimLeft(s[i:], " "))
		if w == "" {
			return at(i, name, nil)
		}
		if w != "-" && !isDigits(w) || name == "status" && len(w) != 3 {
			return at(i, name, fmt.Errorf("want a number, got %q", clip(w, 16)))
		}
		i = strings.Index(s[i:], w) + i + len(w)
		addDash(ev, name, w)
	}
	if i < len(s) { // combined
		for _, name := range []string{"referrer", "user_agent"} {
			v, n, err := quoted(s, i+1)
			if err != nil {
				return at(i+1, name, err)
			}
			addDash(ev, name, v)
			i = n
		}
	}
	if i < len(s) && p.nginx {
		i = p.nginxExtras(s, i, ev)
	}
	if i < len(s) {
		return fmt.Errorf("unexpected text at byte %d: %q", lead+i+1, clip(s[i:], 32))
	}
	return p.settle(ev, t.UTC(), true)
}

// nginxExtras reads nginx's optional ` "x_forwarded_for"` and
// ` request_time` after the user agent, returning the offset after them.
func (p *clfParser) nginxExtras(s string, i int, ev *event.Event) int {
	if v, n, err := quoted(s, i+1); err == nil {
		addDash(ev, "x_forwarded_for", v)
		i = n
	}
	if w := word(strings.TrimLeft(s[i:], " ")); w != "" && isDecimal(w) {
		ev.Add("request_time", w)
		i = strings.Index(s[i:], w) + i + len(w)
	}
	return i
}

// quoted reads ` "…"` at s[i-1:] (one space, then a quoted value with \"
// and \\ escapes) and returns the value and the offset after it.
func quoted(s string, i int) (string, int, error) {
	if i >= len(s) || s[i-1] != ' ' || s[i] != '"' {
		return "", 0, errCLFQuote
	}
	i++
	start, esc := i, false
	for ; i < len(s) && s[i] != '"'; i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			esc = true
			i++
		}
	}
	if i == len(s) {
		return "", 0, errors.New("unterminated quoted value")
	}
	v := s[start:i]
	if esc {
		v = clfUnescape.Replace(v)
	}
	return v, i + 1, nil
}

// splitRequest adds method, path, query and protocol from "GET /a?b HTTP/1.1".
func splitRequest(ev *event.Event, req string) {
	method, rest, ok1 := strings.Cut(req, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || target == "" || strings.Contains(proto, " ") {
		return
	}
	ev.Add("method", method)
	path, query, hasQuery := strings.Cut(target, "?")
	ev.Add("path", path)
	if hasQuery && query != "" {
		ev.Add("query", query)
	}
	ev.Add("protocol", proto)
}

// addDash adds key unless value is "-" or empty.
func addDash(ev *event.Event, key, value string) {
	if value != "-" && value != "" {
		ev.Add(key, value)
	}
}

// isDecimal reports whether w is digits with at most one '.'.
func isDecimal(w string) bool {
	intPart, frac, dot := strings.Cut(w, ".")
	return isDigits(intPart) && (!dot || isDigits(frac))
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseCLFTime reads "10/Oct/2026:13:55:36 +0200" (layoutCLF) without
// allocating a time.Location per offset, as time.Parse does.
func parseCLFTime(s string) (time.Time, bool) {
	if len(s) != len(layoutCLF) || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
		s[20] != ' ' || (s[21] != '+' && s[21] != '-') {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		if !isDigits(s[a:b]) {
			return -1
		}
		n := 0
		for _, c := range s[a:b] {
			n = n*10 + int(c-'0')
		}
		return n
	}
	month := slices.Index(months[:], s[3:6]) + 1
	day, year, hh, mm, ss := num(0, 2), num(7, 11), num(12, 14), num(15, 17), num(18, 20)
	oh, om := num(22, 24), num(24, 26)
	if month == 0 || day < 1 || year < 0 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || oh < 0 || oh > 23 || om < 0 || om > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hh, mm, min(ss, 59), 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 31 April
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if s[21] == '+' {
		off = -off
	}
	return t.Add(off), true
}
