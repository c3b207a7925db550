package format

import (
	"fmt"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
)

// albParser is the alb format: AWS Application Load Balancer access log
// entries, fields separated by spaces, some in double quotes.
//
// Field names follow the AWS documentation. Compound fields are split:
// client:port → client_ip, client_port; target:port → target_ip,
// target_port; "request" → request_method, request_url, request_protocol,
// plus the derived request_scheme and request_path (the URL's path without
// query or fragment); "target:port_list" → target_port_list. A value "-"
// (or "") means absent. Processing times of -1 (the ALB could not dispatch
// or the client went away) are kept: they are data. IPv6 addresses are
// written by the ALB without brackets ("2001:db8::1:443"), so the port is
// what follows the last colon; a bracketed form is accepted too.
//
// Entries need at least the fields up to "request"; AWS appends fields over
// time, so fields beyond the documented ones are ignored and missing
// trailing ones are simply absent. Quoted values are kept as written
// (a backslash-escaped quote does not end a field; a quote ends a field
// only when a space or the end of the line follows).
type albParser struct {
	clock
	tok [len(albNames)]string
}

// albNames are the documented fields in order; "" marks those split below.
var albNames = [...]string{
	"type", "time", "elb", "", "",
	"request_processing_time", "target_processing_time", "response_processing_time",
	"elb_status_code", "target_status_code", "received_bytes", "sent_bytes",
	"", "user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn",
	"trace_id", "domain_name", "chosen_cert_arn", "matched_rule_priority",
	"request_creation_time", "actions_executed", "redirect_url", "error_reason",
	"target_port_list", "target_status_code_list", "classification",
	"classification_reason", "conn_trace_id",
}

const (
	albClient    = 3
	albTarget    = 4
	albRequest   = 12
	albMinFields = albRequest + 1
)

func (p *albParser) Parse(line []byte, ev *event.Event) error {
	s, lead, err := lineString(line)
	if err != nil {
		return err
	}
	n, err := albSplit(s, lead, &p.tok)
	if err != nil {
		return err
	}
	if n < albMinFields {
		return fmt.Errorf("too few fields for an alb entry: %d, want at least %d", n, albMinFields)
	}
	t, ok := event.ParseTime(p.tok[1])
	if !ok {
		return fmt.Errorf("invalid time %q", clip(p.tok[1], 40))
	}
	for i, v := range p.tok[:n] {
		if v == "-" || v == "" {
			continue
		}
		switch i {
		case albClient:
			ip, port := splitHostPort(v)
			ev.Add("client_ip", ip)
			if port != "" {
				ev.Add("client_port", port)
			}
		case albTarget:
			ip, port := splitHostPort(v)
			ev.Add("target_ip", ip)
			if port != "" {
				ev.Add("target_port", port)
			}
		case albRequest:
			addRequest(ev, v)
		default:
			ev.Add(albNames[i], v)
		}
	}
	return p.clock.settle(ev, t, true)
}

// albSplit splits s into at most len(tok) fields and returns how many it
// found; fields beyond those are ignored.
func albSplit(s string, lead int, tok *[len(albNames)]string) (int, error) {
	n := 0
	for i := 0; i < len(s) && n < len(tok); {
		if s[i] == ' ' {
			i++
			continue
		}
		if s[i] != '"' {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			tok[n] = s[i : i+j]
			n++
			i += j
			continue
		}
		j := i + 1
		for ; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '"' && (j+1 == len(s) || s[j+1] == ' ') {
				break
			}
		}
		if j >= len(s) {
			return 0, fmt.Errorf("unterminated quoted field at byte %d", lead+i)
		}
		tok[n] = s[i+1 : j]
		n++
		i = j + 1
	}
	return n, nil
}

// splitHostPort splits "ip:port", "[ipv6]:port" and the ALB's unbracketed
// "ipv6:port" at the last colon. A value without a colon is all host.
func splitHostPort(v string) (host, port string) {
	if v != "" && v[0] == '[' {
		if end := strings.IndexByte(v, ']'); end > 0 {
			host = v[1:end]
			if rest := v[end+1:]; len(rest) > 1 && rest[0] == ':' {
				port = rest[1:]
			}
			return host, port
		}
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return v, ""
	}
	return v[:i], v[i+1:]
}

// addRequest splits the request line "METHOD URL PROTOCOL". The URL may
// contain spaces (the ALB logs it as the client sent it), so the method is
// before the first space and the protocol after the last.
func addRequest(ev *event.Event, v string) {
	method, url, proto := "", v, ""
	if i := strings.IndexByte(v, ' '); i >= 0 {
		method, url = v[:i], v[i+1:]
		if j := strings.LastIndexByte(url, ' '); j >= 0 {
			url, proto = url[:j], url[j+1:]
		}
	}
	if method != "-" && method != "" {
		ev.Add("request_method", method)
	}
	// For a request it could not parse the ALB writes the URI as "-" right
	// after the port ("- https://host:443- -"): drop that placeholder.
	if n := len(url); n > 1 && url[n-1] == '-' && isDigit(url[n-2]) && strings.Contains(url, "://") &&
		strings.IndexByte(url[strings.Index(url, "://")+3:], '/') < 0 {
		url = url[:n-1]
	}
	if url == "-" || url == "" {
		url = ""
	} else {
		ev.Add("request_url", url)
	}
	if proto != "-" && proto != "" {
		ev.Add("request_protocol", proto)
	}
	if url == "" {
		return
	}
	scheme, path := splitURL(url)
	if scheme != "" {
		ev.Add("request_scheme", scheme)
	}
	if path != "" {
		ev.Add("request_path", path)
	}
}

// splitURL returns the scheme and the path (without query or fragment) of
// an absolute URL or an origin-form path.
func splitURL(url string) (scheme, path string) {
	rest := url
	if i := strings.Index(url, "://"); i > 0 && isScheme(url[:i]) {
		scheme, rest = url[:i], url[i+3:]
		slash := strings.IndexAny(rest, "/?#")
		if slash < 0 || rest[slash] != '/' {
			return scheme, ""
		}
		rest = rest[slash:]
	}
	if rest == "" || rest[0] != '/' {
		return scheme, ""
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme, rest
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z') && !(i > 0 && (isDigit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return s != ""
}
