package format

import (
	"errors"
	"fmt"
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
	t, err := time.Parse(layoutCLF, s[i+1:i+end])
	if err != nil || !event.InRange(t) {
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
		v = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v)
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
