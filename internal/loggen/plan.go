package loggen

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Times are microseconds since the Unix epoch.
const (
	second  = int64(time.Second / time.Microsecond)
	minute  = 60 * second
	window  = 5 * minute
	margin  = window + second // quiet zone around clusters: more than a window
	maxKeep = 5               // benign failures allowed in any window of a key
	slotLen = 25 * minute     // mcp formats: one cluster per slot
)

// role is what a client does in the world.
type role uint8

const (
	roleBenign role = iota
	roleAttacker
	roleNearMiss
	roleProber
	rolePlaintext
	roleLegacyTLS
)

// Flags of an event.
const (
	fBurst     = 1 << iota // part of an attack burst
	fPreflight             // a CORS preflight (OPTIONS) without credentials
	fRedis                 // written while Redis was down
)

// ev is one logical event. Everything a renderer draws at random comes from
// a generator seeded with (Config.Seed, seq), so rendering is a pure
// function of the event.
type ev struct {
	t      int64 // event time
	arrive int64 // position in the output: t, or later for out-of-order events
	seq    int32 // creation order; tie-breaker and render seed
	client int32
	sess   int32 // session whose correlation id the event carries; -1: its own
	kind   kind
	sub    uint8 // failure type, origin, reason or tool index, by kind
	path   uint8 // index into paths
	flags  uint8
	n      uint8 // attempt number (unknown tools), count (rate limit)
}

// cluster is an attack burst or a near miss of one key.
type cluster struct {
	client      int32
	times       []int64
	nearMiss    bool
	maxInWindow int
}

// world is the plan of one log.
type world struct {
	cfg        Config
	r          *rand.Rand
	start, end int64
	addrs      []netip.Addr
	ips        []string
	roles      []role
	style      []uint8 // attackers: failure type of their burst
	zones      []zone  // quiet zones around clusters (sorted for the mcp formats)
	zoneOf     []int32 // per-IP formats: index into zones, or -1
	clusters   []cluster
	events     []ev
	sessions   int32
	late       int
	lines      int // written by the renderer
}

type zone struct{ lo, hi int64 }

// plan builds the world for cfg (defaults applied).
func plan(cfg Config) (*world, error) {
	w := &world{
		cfg:   cfg,
		r:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6c6f6767656e)),
		start: cfg.Start.UnixMicro(),
	}
	w.end = w.start + cfg.Duration.Microseconds()
	w.makeClients()
	if err := w.assignRoles(); err != nil {
		return nil, err
	}
	if err := w.makeClusters(); err != nil {
		return nil, err
	}
	w.makeProbes()
	w.makePlaintext()
	w.makeEnumerations()
	w.makeIncidents()
	benign := cfg.Events - len(w.events)
	if benign < 0 {
		return nil, fmt.Errorf("events: %d is too few for the %d events of %d attackers, %d near misses and the other special clients; use more events or fewer ips",
			cfg.Events, len(w.events), cfg.attackers(), cfg.nearMisses())
	}
	w.makeBenign(benign)
	if cfg.Format == "mcp-text" {
		w.makeHealthChecks()
	}
	w.delay()
	slices.SortFunc(w.events, func(a, b ev) int {
		return cmp.Or(cmp.Compare(a.arrive, b.arrive), cmp.Compare(a.seq, b.seq))
	})
	return w, nil
}

// add appends an event, assigning its sequence number.
func (w *world) add(e ev) {
	e.seq = int32(len(w.events))
	w.events = append(w.events, e)
}

func (w *world) newSession() int32 {
	w.sessions++
	return w.sessions - 1
}

// makeClients draws ClientIPs distinct addresses: from the RFC 5737
// documentation ranges when they are enough, random public IPv4 otherwise.
func (w *world) makeClients() {
	n := w.cfg.ClientIPs
	w.addrs = make([]netip.Addr, 0, n)
	if n <= 3*254 {
		pool := make([]netip.Addr, 0, 3*254)
		for _, net := range [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}} {
			for h := 1; h <= 254; h++ {
				pool = append(pool, netip.AddrFrom4([4]byte{net[0], net[1], net[2], byte(h)}))
			}
		}
		w.r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		w.addrs = append(w.addrs, pool[:n]...)
	} else {
		seen := make(map[uint32]bool, n)
		for len(w.addrs) < n {
			v := w.r.Uint32()
			if !publicIPv4(v) || seen[v] {
				continue
			}
			seen[v] = true
			w.addrs = append(w.addrs, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
		}
	}
	w.ips = make([]string, n)
	for i, a := range w.addrs {
		w.ips[i] = a.String()
	}
}

// publicIPv4 reports whether v looks like a public unicast host address
// outside the documentation ranges.
func publicIPv4(v uint32) bool {
	a, b, c, d := byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	switch {
	case a == 0 || a == 10 || a == 127 || a >= 224 || d == 0 || d == 255:
		return false
	case a == 100 && b&0xc0 == 64, a == 169 && b == 254, a == 172 && b&0xf0 == 16,
		a == 192 && b == 168, a == 192 && b == 0 && (c == 0 || c == 2),
		a == 198 && (b == 18 || b == 19), a == 198 && b == 51 && c == 100, a == 203 && b == 0 && c == 113:
		return false
	}
	return true
}

// Special client counts other than attackers and near misses.
func (w *world) probers() int {
	if !w.cfg.perIP() {
		return 0 // over the whole log, a prober's failures would be noise in the count
	}
	return 1 + w.cfg.ClientIPs/25000
}
func (w *world) plaintextClients() int { return 2 + w.cfg.ClientIPs/10000 }
func (w *world) legacyTLSClients() int { return 2 + w.cfg.ClientIPs/10000 }
func (w *world) enumerators() int      { return 1 + w.cfg.Events/200000 }

func (w *world) assignRoles() error {
	n := w.cfg.ClientIPs
	counts := []struct {
		role role
		n    int
	}{
		{roleAttacker, w.cfg.attackers()},
		{roleNearMiss, 0},
		{roleProber, w.probers()},
		{rolePlaintext, w.plaintextClients()},
		{roleLegacyTLS, w.legacyTLSClients()},
	}
	if w.cfg.perIP() {
		counts[1].n = w.cfg.nearMisses()
	}
	total := 0
	for _, c := range counts {
		total += c.n
	}
	if total >= n {
		return fmt.Errorf("ips: %d are too few for %d special clients (attackers, near misses, probers, plaintext and legacy TLS clients) and some benign ones",
			n, total)
	}
	w.roles = make([]role, n)
	w.style = make([]uint8, n)
	order := w.r.Perm(n)
	i := 0
	for _, c := range counts {
		for range c.n {
			w.roles[order[i]] = c.role
			i++
		}
	}
	return nil
}

// msAligned draws a time in [lo, hi) rounded down to the millisecond, so
// that an offset of exactly 5 minutes survives the mcp formats' millisecond
// timestamps.
func (w *world) msAligned(lo, hi int64) int64 {
	t := lo + w.r.Int64N(hi-lo)
	return t - t%1000
}

// burstTimes returns k sorted failure times from first to first+span.
func (w *world) burstTimes(first, span int64, k int) []int64 {
	ts := make([]int64, 0, k+1)
	ts = append(ts, first, first+span)
	for range k - 2 {
		ts = append(ts, first+1+w.r.Int64N(span-1))
	}
	slices.Sort(ts)
	return ts
}

// attackSpan draws how long a burst of k failures lasts: scripted bursts
// take seconds, patient ones almost the whole window (which is what defeats
// a leaky bucket).
func (w *world) attackSpan(k int) int64 {
	switch p := w.r.Float64(); {
	case p < 0.3:
		return int64(k) * (100_000 + w.r.Int64N(900_000))
	case p < 0.7:
		return 30*second + w.r.Int64N(150*second)
	default:
		return 180*second + w.r.Int64N(119*second+900_000) // at most 299.9s
	}
}

func (w *world) burstSize() int {
	switch p := w.r.Float64(); {
	case p < 0.6:
		return 11 + w.r.IntN(5)
	case p < 0.9:
		return 16 + w.r.IntN(15)
	default:
		return 31 + w.r.IntN(10)
	}
}

// makeClusters places the attack bursts and near misses: anywhere for the
// per-IP formats, in distinct 25-minute slots for the mcp formats.
func (w *world) makeClusters() error {
	var attackers, near []int32
	for i, r := range w.roles {
		switch r {
		case roleAttacker:
			attackers = append(attackers, int32(i))
		case roleNearMiss:
			near = append(near, int32(i))
		}
	}
	nNear := len(near)
	if !w.cfg.perIP() {
		nNear = w.cfg.nearMisses()
	}
	var slots []int
	if !w.cfg.perIP() {
		n := int((w.end - w.start) / slotLen)
		if len(attackers)+nNear > n {
			return fmt.Errorf("duration: %s holds %d bursts and near misses 25 minutes apart, need %d; use a longer duration or fewer attackers",
				w.cfg.Duration, n, len(attackers)+nNear)
		}
		slots = w.r.Perm(n)
	}
	w.zoneOf = make([]int32, len(w.roles))
	for i := range w.zoneOf {
		w.zoneOf[i] = -1
	}
	firstTime := func(i int) int64 {
		if slots != nil {
			s := w.start + int64(slots[i])*slotLen
			return w.msAligned(s+5*minute, s+10*minute)
		}
		return w.msAligned(w.start+minute, w.end-6*minute)
	}
	for i, c := range attackers {
		switch p := w.r.Float64(); {
		case p < 0.75:
			w.style[c] = ftInvalidKey
		case p < 0.9:
			w.style[c] = ftInvalidFormat
		default:
			w.style[c] = ftMissingHeader
		}
		k := w.burstSize()
		w.addCluster(cluster{client: c, times: w.burstTimes(firstTime(i), w.attackSpan(k), k), maxInWindow: k})
	}
	for i := range nNear {
		client := w.randomBenign()
		if w.cfg.perIP() {
			client = near[i]
		}
		first := firstTime(len(attackers) + i)
		ts := w.burstTimes(first, 60*second+w.r.Int64N(239*second+900_000), 10)
		if i%3 == 2 {
			ts = append(ts, first+window) // not counted together with the first
		}
		w.addCluster(cluster{client: client, times: ts, nearMiss: true, maxInWindow: 10})
	}
	if !w.cfg.perIP() { // per IP, zoneOf indexes zones in creation order
		slices.SortFunc(w.zones, func(a, b zone) int { return cmp.Compare(a.lo, b.lo) })
	}
	return nil
}

func (w *world) addCluster(c cluster) {
	z := zone{c.times[0] - margin, c.times[len(c.times)-1] + margin}
	if w.cfg.perIP() {
		w.zoneOf[c.client] = int32(len(w.zones))
	}
	w.zones = append(w.zones, z)
	w.clusters = append(w.clusters, c)
	sess := w.newSession()
	for _, t := range c.times {
		e := ev{t: t, client: c.client, sess: -1, kind: kAuthFailure}
		if c.nearMiss {
			e.sub = ftInvalidKey // a client with a stale key, retrying
			e.sess = sess
		} else {
			e.sub, e.flags = w.style[c.client], fBurst
			if w.r.IntN(4) == 0 {
				e.path = 1
			}
		}
		w.add(e)
	}
}

// randomBenign returns a client with the benign role.
func (w *world) randomBenign() int32 {
	for {
		i := w.r.IntN(len(w.roles))
		if w.roles[i] == roleBenign {
			return int32(i)
		}
	}
}

// makeProbes sends each prober's requests to distinct paths, 31-90 seconds
// apart, so that no 5-minute window holds more than 10.
func (w *world) makeProbes() {
	for i, r := range w.roles {
		if r != roleProber {
			continue
		}
		n := 25 + w.r.IntN(16)
		order := w.r.Perm(len(paths) - numMCPPaths)
		// Short logs may not fit a whole probe: start anywhere then.
		t := w.start + w.r.Int64N(max(w.end-w.start-int64(n)*90*second, 1))
		for j := range n {
			w.add(ev{t: t, client: int32(i), sess: -1, kind: kAuthFailure, sub: ftMissingHeader,
				path: uint8(numMCPPaths + order[j])})
			t += 31*second + w.r.Int64N(59*second)
		}
	}
}

// makePlaintext gives each plaintext client 1-3 plain-HTTP requests.
func (w *world) makePlaintext() {
	for i, r := range w.roles {
		if r != rolePlaintext {
			continue
		}
		t := w.start + w.r.Int64N(w.end-w.start-10*minute)
		for range 1 + w.r.IntN(3) {
			w.add(ev{t: t, client: int32(i), sess: -1, kind: kRequest})
			t += second + w.r.Int64N(5*minute)
		}
	}
}

// makeEnumerations makes sessions that try 11-20 unknown tools within a
// minute: from the 11th attempt on, the server also logs
// rate_limit_exceeded (more than 10 in its 60-second window).
func (w *world) makeEnumerations() {
	for range w.enumerators() {
		client := w.randomBenign()
		sess := w.newSession()
		n := 11 + w.r.IntN(10)
		t := w.start + w.r.Int64N(w.end-w.start-2*minute)
		order := w.r.Perm(len(unknownTools))
		for i := 1; i <= n; i++ {
			tool := uint8(order[(i-1)%len(order)])
			w.add(ev{t: t, client: client, sess: sess, kind: kUnknownTool, sub: tool, path: 1, n: uint8(i)})
			if i > 10 {
				w.add(ev{t: t + 400, client: client, sess: sess, kind: kRateLimit, sub: tool, path: 1, n: uint8(i)})
			}
			t += second + w.r.Int64N(4*second)
		}
	}
}

// makeIncidents adds the other security events: a share of Events, and a
// few of each however small the log, so that every log shows every shape.
// They come from benign clients and are not authentication failures.
func (w *world) makeIncidents() {
	n := float64(w.cfg.Events)
	for _, inc := range []struct {
		kind  kind
		share float64
		least int
	}{
		{kCORS, 0.004, 4},
		{kSanitization, 0.0015, 3},
		{kInjection, 0.0005, 2},
		{kValidationBypass, 0.0002, 1},
		{kUnknownTool, 0.001, 2},
		{kLoop, 0.0003, 2},
		{kBudget, 0.0002, 1},
	} {
		for range max(inc.least, int(inc.share*n)) {
			client := w.randomBenign()
			e := ev{t: w.start + w.r.Int64N(w.end-w.start), client: client, sess: -1, kind: inc.kind, path: 1}
			switch inc.kind {
			case kCORS:
				// A client's browser sends the origin of the page it is on.
				e.sub, e.path = uint8(hash64(uint64(w.cfg.Seed), uint64(client))%uint64(len(badOrigins))), w.mcpPath()
			case kSanitization:
				e.sub, e.path = uint8(w.r.IntN(len(sanitizationReasons))), w.mcpPath()
			case kUnknownTool:
				e.sub, e.n = uint8(w.r.IntN(len(unknownTools))), 1
			default:
				e.sub = uint8(w.r.IntN(len(tools)))
			}
			if inc.kind == kLoop || inc.kind == kBudget {
				e.sess = w.newSession() // the session that looped or spent its budget
			}
			w.add(e)
		}
	}
}

// makeHealthChecks adds the ALB's health checks: each node every 30s. It
// draws nothing from the plan's generator, so that mcp-text and
// mcp-cloudwatch made with the same Config record the same traffic.
func (w *world) makeHealthChecks() {
	for node := range albNodes {
		for t := w.start + int64(node)*13*second + 211_000; t < w.end; t += 30 * second {
			jitter := int64(hash64(uint64(w.cfg.Seed), uint64(node), uint64(t)) % 20_000)
			w.add(ev{t: t + jitter, client: int32(node), sess: -1, kind: kHealth})
		}
	}
}

// delay makes LateFraction of the events arrive 1s..MaxLate after their
// time. A rate-limit event keeps the delay of the attempt it belongs to.
func (w *world) delay() {
	maxLate := w.cfg.MaxLate.Microseconds()
	var last int64
	for i := range w.events {
		e := &w.events[i]
		d := int64(0)
		switch {
		case e.kind == kRateLimit:
			d = last
		case e.kind != kHealth && w.cfg.LateFraction > 0 && w.r.Float64() < w.cfg.LateFraction:
			d = second + w.r.Int64N(maxLate-second+1)
		}
		if d > 0 {
			w.late++
		}
		e.arrive = e.t + d
		last = d
	}
}

func (w *world) mcpPath() uint8 {
	switch p := w.r.Float64(); {
	case p < 0.6:
		return 0
	case p < 0.9:
		return 1
	default:
		return 2
	}
}

// benignFailure draws the failure type of a benign client's failure: stale
// keys, clients that forgot the header, browser preflights (which carry no
// credentials), wrong schemes.
func (w *world) benignFailure() (sub, flags uint8) {
	switch p := w.r.Float64(); {
	case p < 0.55:
		return ftInvalidKey, 0
	case p < 0.7:
		return ftMissingHeader, 0
	case p < 0.85:
		return ftMissingHeader, fPreflight
	case p < 0.95:
		return ftInvalidFormat, 0
	default:
		return ftEmptyToken, 0
	}
}

// hash64 mixes its arguments (splitmix64 finalizer); used for values that
// must be stable per client or per session without storing them.
func hash64(vs ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vs {
		h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
