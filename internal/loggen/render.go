package loggen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// renderer holds what every format's renderer shares: the world, the
// output buffer of the current line and a generator reseeded per event.
type renderer struct {
	w     *world
	seed  uint64
	buf   []byte
	pcg   rand.PCG
	r     *rand.Rand
	lines int
}

func newRenderer(w *world) *renderer {
	x := &renderer{w: w, seed: uint64(w.cfg.Seed), buf: make([]byte, 0, 1024)}
	x.r = rand.New(&x.pcg)
	return x
}

// reset reseeds the per-event generator: what a renderer draws for an event
// depends only on the seed and the event.
func (x *renderer) reset(e *ev) {
	x.pcg.Seed(x.seed, uint64(e.seq)<<1|1)
}

// between draws an integer in [lo, hi].
func (x *renderer) between(lo, hi int64) int64 { return lo + x.r.Int64N(hi-lo+1) }

// Stable identities derived by hashing, so that nothing needs storing.
const (
	tagCID = iota + 1
	tagCID2
	tagKey
	tagSig
	tagTrace
	tagTrace2
	tagConn
	tagConn2
)

// cid is the event's correlation id: its session's when it has one.
func (x *renderer) cid(e *ev) string {
	id := uint64(e.seq) | 1<<40
	if e.sess >= 0 {
		id = uint64(e.sess)
	}
	return uuid4(hash64(x.seed, tagCID, id), hash64(x.seed, tagCID2, id))
}

// keyHash is the 8-hex-digit hash of the key an invalid_key failure
// presented: a brute-forcing attacker tries a new key every time, anyone
// else keeps presenting the same stale one.
func (x *renderer) keyHash(e *ev) string {
	id := uint64(e.client)
	if e.flags&fBurst != 0 {
		id = uint64(e.seq) | 1<<40
	}
	return hexN(hash64(x.seed, tagKey, id), 8)
}

func uuid4(a, b uint64) string {
	a = a&^(0xf<<12) | 4<<12       // version 4
	b = b&^(0x3<<62) | 0x2<<62     // RFC 4122 variant
	h := hexN(a, 16) + hexN(b, 16) // 32 digits
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// hexN returns the low n (at most 16) hex digits of v.
func hexN(v uint64, n int) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := n - 1; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:n])
}

func utc(us int64) time.Time { return time.UnixMicro(us).UTC() }

// appendPyISO appends t as Python's naive datetime.isoformat(): six
// fraction digits, none at all when the microseconds are zero.
func appendPyISO(b []byte, us int64) []byte {
	t := utc(us)
	if t.Nanosecond() == 0 {
		return t.AppendFormat(b, "2006-01-02T15:04:05")
	}
	return t.AppendFormat(b, "2006-01-02T15:04:05.000000")
}

// appendAsctime appends t as Python logging's asctime: milliseconds,
// truncated, after a comma.
func appendAsctime(b []byte, us int64) []byte {
	return utc(us).AppendFormat(b, "2006-01-02 15:04:05,000")
}

// appendJSONString appends s as a JSON string the way Python's json.dumps
// writes it (ensure_ascii: everything outside printable ASCII escaped).
func appendJSONString(b []byte, s string) []byte {
	const digits = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', byte(c))
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c >= 0x7f:
			if c > 0xffff {
				c -= 0x10000
				hi, lo := 0xd800+(c>>10), 0xdc00+(c&0x3ff)
				b = append(b, '\\', 'u', digits[hi>>12], digits[hi>>8&0xf], digits[hi>>4&0xf], digits[hi&0xf])
				c = lo
			}
			b = append(b, '\\', 'u', digits[c>>12], digits[c>>8&0xf], digits[c>>4&0xf], digits[c&0xf])
		default:
			b = append(b, byte(c))
		}
	}
	return append(b, '"')
}

// method is the HTTP method of an event's request.
func method(e *ev) string {
	switch {
	case e.flags&fPreflight != 0:
		return "OPTIONS"
	case e.path >= 2:
		return "GET"
	}
	return "POST"
}

// status is the HTTP status the server answers an event's request with.
func status(e *ev) int {
	switch e.kind {
	case kAuthFailure:
		return 401
	case kSanitization:
		return 400
	}
	return 200
}

var statusText = map[int]string{200: "OK", 301: "Moved Permanently", 400: "Bad Request", 401: "Unauthorized"}

// toolOf is the registered tool a request calls, or "" for none.
func toolOf(e *ev) string {
	switch e.kind {
	case kRequest:
		// tools/list calls none; a third of the /mcp requests are protocol
		// messages (initialize, tools/list) rather than tool calls.
		if e.path == 2 || e.path == 0 && e.seq%3 == 0 {
			return ""
		}
		return tools[int(e.seq/3)%len(tools)]
	case kInjection, kValidationBypass, kLoop, kBudget:
		return tools[e.sub]
	case kUnknownTool, kRateLimit:
		return unknownTools[e.sub]
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }
