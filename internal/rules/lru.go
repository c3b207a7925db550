package rules

// groupSet holds one rule's groups: a map for lookup and an intrusive
// doubly linked list for order (front = oldest). Threshold and sequence rules
// keep the list in order of last use (least recently used at the front);
// absent rules keep it in order of last-seen event time.
//
// It is hand-rolled rather than golang-lru because the engine looks groups up
// by a key built in a reused byte buffer: the map index form m[string(b)]
// does not allocate, while a generic Get(key string) would allocate a string
// per event.
type groupSet struct {
	m           map[string]*group
	front, back *group
	max         int
}

func newGroupSet(max int) *groupSet {
	return &groupSet{m: make(map[string]*group), max: max}
}

func (s *groupSet) len() int { return len(s.m) }

// lookup returns the group with key k, or nil.
func (s *groupSet) lookup(k []byte) *group {
	return s.m[string(k)]
}

// insert adds g at the back. If that takes the set past its capacity, the
// front group is removed and returned.
func (s *groupSet) insert(g *group) (evicted *group) {
	s.m[g.key] = g
	s.pushBack(g)
	if len(s.m) > s.max {
		evicted = s.front
		s.remove(evicted)
	}
	return evicted
}

func (s *groupSet) remove(g *group) {
	delete(s.m, g.key)
	s.unlink(g)
}

func (s *groupSet) pushBack(g *group) {
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
