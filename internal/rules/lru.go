package rules

import "hash/maphash"

// groupSet holds one rule's groups: a map for lookup and an intrusive
// doubly linked list for order (front = oldest). Threshold and sequence rules
// keep the list in order of last use (least recently used at the front);
// absent rules keep it in order of last-seen event time.
//
// The map is keyed by the hash of a group's key (keyHash), and groups whose
// keys share a hash are chained through sameHash. The engine hashes an
// event's key once and every rule grouping by the same fields looks it up
// with that hash (Engine.groupKey); dropping a group needs no hashing. The
// seed is random per process, as Go's own maps are, so that keys chosen by
// whoever writes the logs cannot be made to collide; nothing depends on
// hash order.
//
// It is hand-rolled rather than golang-lru because the engine looks groups up
// by a key built in a reused byte buffer: a generic Get(key string) would
// allocate a string per event.
type groupSet struct {
	m           map[uint64]*group
	n           int
	front, back *group
	max         int
	seq         uint64 // the next useSeq
}

var keySeed = maphash.MakeSeed()

// keyHash is the hash of a group key (maphash.String of the same bytes
// gives the same hash).
func keyHash(k []byte) uint64 { return maphash.Bytes(keySeed, k) }

func newGroupSet(max int) *groupSet {
	return &groupSet{m: make(map[uint64]*group), max: max}
}

func (s *groupSet) len() int { return s.n }

// lookup returns the group with key k, or nil.
func (s *groupSet) lookup(k []byte) *group {
	return s.lookupHashed(k, keyHash(k))
}

// lookupHashed is lookup when the caller has keyHash(k).
func (s *groupSet) lookupHashed(k []byte, h uint64) *group {
	g := s.m[h]
	for g != nil && g.key != string(k) {
		g = g.sameHash
	}
	return g
}

// insert adds g, which no group of the set has the key of, at the back. If
// that takes the set past its capacity, the front group is removed and
// returned.
func (s *groupSet) insert(g *group) (evicted *group) {
	return s.insertHashed(g, maphash.String(keySeed, g.key))
}

// insertHashed is insert when the caller has keyHash of g's key.
func (s *groupSet) insertHashed(g *group, h uint64) (evicted *group) {
	g.hash = h
	g.sameHash = s.m[h]
	s.m[h] = g
	s.n++
	s.pushBack(g)
	if s.n > s.max {
		evicted = s.front
		s.remove(evicted)
	}
	return evicted
}

func (s *groupSet) remove(g *group) {
	if head := s.m[g.hash]; head == g {
		if g.sameHash == nil {
			delete(s.m, g.hash)
		} else {
			s.m[g.hash] = g.sameHash
		}
	} else {
		for head.sameHash != g {
			head = head.sameHash
		}
		head.sameHash = g.sameHash
	}
	g.sameHash = nil
	s.n--
	s.unlink(g)
}

func (s *groupSet) pushBack(g *group) {
	g.useSeq = s.seq
	s.seq++
	g.prev, g.next = s.back, nil
	if s.back != nil {
		s.back.next = g
	} else {
		s.front = g
	}
	s.back = g
}

func (s *groupSet) unlink(g *group) {
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		s.front = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		s.back = g.prev
	}
	g.prev, g.next = nil, nil
}

// touch moves g to the back (most recently used).
func (s *groupSet) touch(g *group) {
	if s.back == g {
		return
	}
	s.unlink(g)
	s.pushBack(g)
}

// placeByLast moves g to keep the list ordered by last (ascending), walking
// from the back: O(1) when events arrive in time order.
func (s *groupSet) placeByLast(g *group) {
	s.unlink(g)
	at := s.back
	for at != nil && at.last > g.last {
		at = at.prev
	}
	if at == nil { // g goes first
		g.prev, g.next = nil, s.front
		if s.front != nil {
			s.front.prev = g
		} else {
			s.back = g
		}
		s.front = g
		return
	}
	g.prev, g.next = at, at.next
	if at.next != nil {
		at.next.prev = g
	} else {
		s.back = g
	}
	at.next = g
}
