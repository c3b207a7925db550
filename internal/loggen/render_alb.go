package loggen

import (
	"bufio"
	"strconv"
)

// renderALB writes one AWS ALB access log entry per request, in the
// documented field order:
//
//	type time elb client:port target:port request_processing_time
//	target_processing_time response_processing_time elb_status_code
//	target_status_code received_bytes sent_bytes "request" "user_agent"
//	ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//	"chosen_cert_arn" matched_rule_priority request_creation_time
//	"actions_executed" "redirect_url" "error_reason" "target:port_list"
//	"target_status_code_list" "classification" "classification_reason"
//	conn_trace_id
//
// Rate-limit events share the request of the unknown-tool attempt before
// them and write nothing.
func renderALB(out *bufio.Writer, w *world) error {
	x := newRenderer(w)
	for i := range w.events {
		e := &w.events[i]
		if e.kind == kRateLimit {
			continue
		}
		x.reset(e)
		x.buf = x.albLine(x.buf[:0], e)
		x.lines++
		if _, err := out.Write(x.buf); err != nil {
			return err
		}
	}
	w.lines = x.lines
	return nil
}

func (x *renderer) albLine(b []byte, e *ev) []byte {
	role := x.w.roles[e.client]
	plain := role == rolePlaintext
	h := hash64(x.seed, uint64(e.client))
	typ, proto, cipher, tls := "https", "HTTP/1.1", "", ""
	switch {
	case plain:
		typ = "http"
	case role == roleLegacyTLS:
		cipher, tls = "ECDHE-RSA-AES128-SHA", []string{"TLSv1", "TLSv1.1"}[h>>8&1]
	case h&3 == 0:
		cipher, tls = "ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2"
	default:
		cipher, tls = "TLS_AES_128_GCM_SHA256", "TLSv1.3"
	}
	if (tls == "TLSv1.2" || tls == "TLSv1.3") && h>>4%10 < 7 { // h2 needs TLS 1.2+ (RFC 9113 9.2)
		typ, proto = "h2", "HTTP/2.0"
	}
	agent := userAgents[h>>16%uint64(len(userAgents))]
	if role == roleAttacker && e.flags&fBurst != 0 || role == roleProber {
		agent = attackerAgents[h>>16%uint64(len(attackerAgents))]
	}

	st := status(e)
	reqTime := x.between(0, 2)
	var targetTime, sent int64
	switch st {
	case 200:
		targetTime, sent = x.between(15, 1800), x.between(420, 24000)
	case 401:
		targetTime, sent = x.between(1, 6), x.between(318, 352)
	default:
		targetTime, sent = x.between(1, 4), 287
	}
	received := x.between(180, 1400)
	if e.path >= 2 || e.flags&fPreflight != 0 {
		received = x.between(90, 420)
	}
	target := targets[h>>24%uint64(len(targets))]
	total := (reqTime + targetTime) * 1000

	b = append(b, typ...)
	b = append(b, ' ')
	b = utc(e.t).AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, " "+albName+" "+x.w.ips[e.client]+":"...)
	b = strconv.AppendInt(b, x.between(1024, 65535), 10)
	if plain {
		// The HTTP listener's default action redirects to HTTPS: no target.
		b = append(b, " - -1 -1 -1 301 - "...)
		b = strconv.AppendInt(b, received, 10)
		b = append(b, ` 134 "`+method(e)+` http://`+domain+`:80`+paths[e.path]+` `+proto+`" `...)
		b = appendQuoted(b, agent)
		b = append(b, " - - - "...)
		b = x.traceID(b, e)
		b = append(b, ` "-" "-" 0 `...)
		b = utc(e.t).AppendFormat(b, "2006-01-02T15:04:05.000000Z")
		b = append(b, ` "redirect" "https://`+domain+`:443`+paths[e.path]+`" "-" "-" "-" "-" "-" `...)
		b = x.connID(b, e)
		return append(b, '\n')
	}
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, ' ')
	b = appendSeconds(b, reqTime)
	b = append(b, ' ')
	b = appendSeconds(b, targetTime)
	b = append(b, " 0.000 "...)
	b = strconv.AppendInt(b, int64(st), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(st), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, received, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, ` "`+method(e)+` https://`+domain+`:443`+paths[e.path]+` `+proto+`" `...)
	b = appendQuoted(b, agent)
	b = append(b, " "+cipher+" "+tls+" "+targetGroup+" "...)
	b = x.traceID(b, e)
	b = append(b, ` "`+domain+`" "`+certARN+`" 0 `...)
	b = utc(e.t-total).AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ` "forward" "-" "-" "`+target+`" "`...)
	b = strconv.AppendInt(b, int64(st), 10)
	b = append(b, `" "-" "-" `...)
	b = x.connID(b, e)
	return append(b, '\n')
}

// appendSeconds appends ms milliseconds as seconds with three decimals.
func appendSeconds(b []byte, ms int64) []byte {
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	frac := ms % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// traceID appends the X-Amzn-Trace-Id root: version 1, the epoch seconds
// in 8 hex digits, 24 hex digits of id.
func (x *renderer) traceID(b []byte, e *ev) []byte {
	id := uint64(e.seq)
	b = append(b, `"Root=1-`...)
	b = append(b, hexN(uint64(e.t/second), 8)...)
	b = append(b, '-')
	b = append(b, hexN(hash64(x.seed, tagTrace, id), 8)...)
	b = append(b, hexN(hash64(x.seed, tagTrace2, id), 16)...)
	return append(b, '"')
}

// connID appends conn_trace_id; a client's requests on one connection
// share it (here: per client and session).
func (x *renderer) connID(b []byte, e *ev) []byte {
	id := uint64(e.client)<<32 | uint64(uint32(e.sess))
	b = append(b, "TID_"...)
	b = append(b, hexN(hash64(x.seed, tagConn, id), 16)...)
	return append(b, hexN(hash64(x.seed, tagConn2, id), 16)...)
}
