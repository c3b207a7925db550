package loggen

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// slot is a benign request before it is decided what it is.
type slot struct {
	t      int64
	client int32
	sess   int32
}

// makeBenign spreads n requests over the benign population in sessions and
// decides, in time order, which of them fail authentication (3% try to;
// the failure gate admits only those that keep the truth exact).
func (w *world) makeBenign(n int) {
	if n == 0 {
		return
	}
	gate := newFailureGate(w)
	for _, s := range w.benignSlots(n) {
		e := ev{t: s.t, client: s.client, sess: s.sess, kind: kRequest, path: w.mcpPath()}
		if w.r.Float64() < 0.03 && gate.admit(s.client, s.t) {
			e.kind = kAuthFailure
			e.sub, e.flags = w.benignFailure()
			if e.flags&fPreflight != 0 {
				e.path = 0
			}
		}
		w.add(e)
	}
}

// benignSlots draws n request times, sorted: each client's share by a
// heavy-tailed weight, in sessions of a few requests seconds apart.
func (w *world) benignSlots(n int) []slot {
	// Weight 1-4 times 2^k with P(k) = 2^-(k+1), k < 8. Integers only: the
	// planner does no floating point arithmetic that a compiler could fuse
	// differently on another architecture, so the bytes are the same
	// everywhere.
	cum := make([]int64, len(w.roles))
	total := int64(0)
	for i, r := range w.roles {
		wt := int64(0)
		switch r {
		case roleBenign, roleLegacyTLS, roleNearMiss:
			wt = 10 * (1 + w.r.Int64N(4)) << min(bits.TrailingZeros64(w.r.Uint64()), 7)
		case roleAttacker:
			if w.r.IntN(5) < 2 { // some attackers look like users too
				wt = 3
			}
		}
		total += wt
		cum[i] = total
	}
	counts := make([]int32, len(w.roles))
	for range n {
		i, _ := slices.BinarySearch(cum, w.r.Int64N(total)+1)
		counts[i]++
	}
	slots := make([]slot, 0, n)
	for c, k := range counts {
		for k > 0 {
			size := int32(1)
			for size < k && w.r.IntN(6) != 0 { // geometric, mean 6
				size++
			}
			k -= size
			sess := int32(-1)
			if w.r.IntN(2) == 0 { // the client sends its own X-Correlation-ID
				sess = w.newSession()
			}
			t := w.start + w.r.Int64N(w.end-w.start)
			first := len(slots)
			for range size {
				slots = append(slots, slot{t, int32(c), sess})
				t += 50_000 + w.r.Int64N(4*second)
				if w.r.IntN(5) == 0 {
					t += w.r.Int64N(40 * second) // the user reads, thinks
				}
			}
			if over := slots[len(slots)-1].t - (w.end - 1); over > 0 {
				for j := first; j < len(slots); j++ {
					slots[j].t = max(slots[j].t-over, w.start)
				}
			}
		}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return cmp.Compare(a.t, b.t) })
	return slots
}

// failureGate admits a benign failure only outside the quiet zones around
// clusters and while its key has had fewer than maxKeep failures in the
// window before it, so that no benign key ever holds more than maxKeep
// failures in any window. It must be asked in time order.
type failureGate struct {
	w      *world
	recent [][maxKeep]int64 // last failure times per key, a ring
	next   []uint8
	zi     int // mcp formats: first zone that may still contain t
}

func newFailureGate(w *world) *failureGate {
	keys := 1 // the mcp formats count over the whole log
	if w.cfg.perIP() {
		keys = len(w.roles)
	}
	g := &failureGate{w: w, recent: make([][maxKeep]int64, keys), next: make([]uint8, keys)}
	for k := range g.recent {
		for j := range g.recent[k] {
			g.recent[k][j] = math.MinInt64
		}
	}
	return g
}

func (g *failureGate) admit(client int32, t int64) bool {
	key := 0
	if g.w.cfg.perIP() {
		key = int(client)
		if z := g.w.zoneOf[client]; z >= 0 && t >= g.w.zones[z].lo && t <= g.w.zones[z].hi {
			return false
		}
	} else {
		zones := g.w.zones
		for g.zi < len(zones) && zones[g.zi].hi < t {
			g.zi++
		}
		for j := g.zi; j < len(zones) && zones[j].lo <= t; j++ {
			if t <= zones[j].hi {
				return false
			}
		}
	}
	in := 0
	for _, f := range g.recent[key] {
		if f > t-window {
			in++
		}
	}
	if in >= maxKeep {
		return false
	}
	g.recent[key][g.next[key]] = t
	g.next[key] = (g.next[key] + 1) % maxKeep
	return true
}
