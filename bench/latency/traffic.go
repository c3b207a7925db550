package main

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"time"
)

// traffic renders background SecurityEvent JSON lines shaped like the
// replay benchmark's corpus (secwatch-loggen -format json), stamped with the
// wall clock, in the corpus's proportions: 91.8% requests, 7.7%
// authentication failures, 0.4% CORS violations and 0.1% unknown-tool
// attempts, from 50,000 client IPs, each line with a session id of its own.
// At 10,000 lines per second no client comes near the per-client rules'
// thresholds; the global surge rule and the CORS rule fire a handful of
// times per run.
type traffic struct {
	r  *rand.Rand
	ip []byte
}

var (
	reqPaths      = []string{"/mcp", "/mcp/tools/call", "/mcp/tools/list"}
	failPaths     = []string{"/mcp", "/mcp/tools/call", "/.env", "/admin", "/api/keys", "/wp-login.php"}
	tools         = []string{"check_tag_compliance", "find_untagged_resources", "validate_resource_tags", "get_cost_attribution_gap", "suggest_tags", "generate_compliance_report", "get_violation_history"}
	unknownTools  = []string{"list_users", "execute_command", "read_file", "shell", "aws_cli", "get_secrets", "admin_panel", "exec", "eval", "env_dump"}
	badOrigins    = []string{"https://evil.example.net", "http://localhost:8000", "null", "https://app.example.com.attacker.example"}
	failureTypes  = []string{"invalid_key", "missing_header", "invalid_format", "empty_token"}
	failureTexts  = []string{"Invalid API key (hash: ", "No Authorization header provided", "Authorization header must use Bearer scheme", "Bearer token is empty"}
	clientIPCount = 50000
)

// pyISO is Python's naive isoformat with microseconds, as the server logs.
const pyISO = "2006-01-02T15:04:05.000000"

func newTraffic(r *rand.Rand) *traffic { return &traffic{r: r} }

// appendUUID appends a random UUID-shaped session id.
func appendUUID(b []byte, r *rand.Rand) []byte {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], r.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], r.Uint64())
	var h [32]byte
	hex.Encode(h[:], raw[:])
	b = append(b, h[:8]...)
	b = append(b, '-')
	b = append(b, h[8:12]...)
	b = append(b, '-')
	b = append(b, h[12:16]...)
	b = append(b, '-')
	b = append(b, h[16:20]...)
	b = append(b, '-')
	return append(b, h[20:]...)
}

func appendIP(b []byte, n int) []byte {
	b = append(b, "10."...)
	b = strconv.AppendInt(b, int64(n>>16), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(n>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(n&0xff), 10)
}

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// line appends one background line stamped now.
func (t *traffic) line(b []byte, now time.Time) []byte {
	r := t.r
	t.ip = appendIP(t.ip[:0], r.IntN(clientIPCount))
	ip := t.ip
	now = now.UTC()
	switch p := r.IntN(1000); {
	case p < 918:
		method := "POST"
		path := pick(r, reqPaths)
		if path == "/mcp/tools/list" {
			method = "GET"
		}
		b = append(b, `{"event_type":"request","severity":"info","message":"`...)
		b = append(b, method...)
		b = append(b, ' ')
		b = append(b, path...)
		b = append(b, ` 200","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","details":{"method":"`...)
		b = append(b, method...)
		b = append(b, `","path":"`...)
		b = append(b, path...)
		b = append(b, `","status":200,"duration_ms":`...)
		b = strconv.AppendFloat(b, float64(30+r.IntN(25000))/10, 'f', 1, 64)
		b = append(b, `},"session_id":"`...)
		b = appendUUID(b, r)
		b = append(b, `","tool_name":`...)
		if path == "/mcp/tools/call" {
			b = append(b, '"')
			b = append(b, pick(r, tools)...)
			b = append(b, '"')
		} else {
			b = append(b, "null"...)
		}
	case p < 995:
		ft := r.IntN(len(failureTypes))
		b = append(b, `{"event_type":"authentication_failure","severity":"medium","message":"`...)
		b = append(b, failureTexts[ft]...)
		if ft == 0 {
			const hexDigits = "0123456789abcdef"
			v := r.Uint32()
			for i := 28; i >= 0; i -= 4 {
				b = append(b, hexDigits[v>>i&0xf])
			}
			b = append(b, ')')
		}
		b = append(b, `","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","details":{"failure_type":"`...)
		b = append(b, failureTypes[ft]...)
		b = append(b, `","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","method":"POST","path":"`...)
		b = append(b, pick(r, failPaths)...)
		b = append(b, `","timestamp":"`...)
		b = now.Add(-time.Millisecond).AppendFormat(b, pyISO)
		b = append(b, `"},"session_id":"`...)
		b = appendUUID(b, r)
		b = append(b, `","tool_name":null`...)
	case p < 999:
		b = append(b, `{"event_type":"cors_violation","severity":"medium","message":"Request from non-allowed origin: `...)
		origin := pick(r, badOrigins)
		b = append(b, origin...)
		b = append(b, `","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","details":{"origin":"`...)
		b = append(b, origin...)
		b = append(b, `","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","method":"POST","path":"/mcp","timestamp":"`...)
		b = now.Add(-time.Millisecond).AppendFormat(b, pyISO)
		b = append(b, `","allowed_origins":["https://claude.ai","https://app.example.com"]},"session_id":null,"tool_name":null`...)
	default:
		tool := pick(r, unknownTools)
		b = append(b, `{"event_type":"unknown_tool_attempt","severity":"medium","message":"Attempt to invoke unknown tool: `...)
		b = append(b, tool...)
		b = append(b, `","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","details":{"tool_name":"`...)
		b = append(b, tool...)
		b = append(b, `","has_parameters":true,"parameter_count":`...)
		b = strconv.AppendInt(b, int64(r.IntN(4)), 10)
		b = append(b, `},"session_id":"`...)
		b = appendUUID(b, r)
		b = append(b, `","tool_name":"`...)
		b = append(b, tool...)
		b = append(b, '"')
	}
	b = append(b, `,"timestamp":"`...)
	b = now.AppendFormat(b, pyISO)
	return append(b, "\"}\n"...)
}

// markerLine appends a marker line: its id and the wall-clock time just
// before its write, in nanoseconds since the epoch.
func markerLine(b []byte, id string, now time.Time) []byte {
	b = append(b, `{"event_type":"`+markerType+`","severity":"info","message":"latency marker","client_ip":"127.0.0.1","details":{"marker":"`...)
	b = append(b, id...)
	b = append(b, `","written_ns":`...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, `},"session_id":null,"tool_name":null,"timestamp":"`...)
	b = now.UTC().AppendFormat(b, pyISO)
	return append(b, "\"}\n"...)
}
