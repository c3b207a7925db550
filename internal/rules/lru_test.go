package rules

import (
	"fmt"
	"testing"
)

// TestGroupSetSameHash forces every key of a set onto a few hash values, as
// a collision of keyHash would, and checks that lookups still find exactly
// the group of each key while groups are added and removed in every
// position of their chains, and that eviction keeps its order.
func TestGroupSetSameHash(t *testing.T) {
	const n = 40
	s := newGroupSet(n)
	hashOf := func(i int) uint64 { return uint64(i % 3) } // three chains
	keyOf := func(i int) string { return fmt.Sprintf("k%02d", i) }
	live := map[int]*group{}
	for i := range n {
		g := &group{key: keyOf(i)}
		if ev := s.insertHashed(g, hashOf(i)); ev != nil {
			t.Fatalf("insert %d evicted %q below capacity", i, ev.key)
		}
		live[i] = g
	}
	check := func(when string) {
		t.Helper()
		if s.len() != len(live) {
			t.Fatalf("%s: len %d, want %d", when, s.len(), len(live))
		}
		for i := range n + 30 {
			got := s.lookupHashed([]byte(keyOf(i)), hashOf(i))
			if got != live[i] {
				t.Fatalf("%s: lookup %q found %v, want %v", when, keyOf(i), got, live[i])
			}
		}
	}
	check("after inserts")
	// Remove chain heads, tails and middles.
	for _, i := range []int{39, 0, 19, 20, 1, 37, 38} {
		s.remove(live[i])
		delete(live, i)
		check(fmt.Sprintf("after removing %d", i))
	}
	// A lookup that misses, then the insert of that key onto a chain (the
	// insert takes the chain the lookup found).
	for _, i := range []int{41, 42, 43} {
		if s.lookupHashed([]byte(keyOf(i)), hashOf(i)) != nil {
			t.Fatalf("%q found before its insert", keyOf(i))
		}
		g := &group{key: keyOf(i)}
		s.insertHashed(g, hashOf(i))
		live[i] = g
		check(fmt.Sprintf("after lookup then insert of %d", i))
	}
	// Back to capacity and past it: the least recently inserted go first.
	for i := n + 10; len(live) < n; i++ {
		g := &group{key: keyOf(i)}
		s.insertHashed(g, hashOf(i))
		live[i] = g
	}
	ev := s.insertHashed(&group{key: "extra"}, hashOf(2))
	if ev != live[2] {
		t.Fatalf("evicted %v, want the oldest group k02", ev)
	}
	delete(live, 2)
	if s.lookupHashed([]byte("extra"), hashOf(2)) == nil {
		t.Fatal("the inserted group is not found")
	}
	s.remove(s.lookupHashed([]byte("extra"), hashOf(2)))
	check("after eviction")
	// insert and lookup without a hash agree with the hashed forms.
	g := &group{key: "plain"}
	s.insert(g)
	if s.lookup([]byte("plain")) != g || s.lookupHashed([]byte("plain"), keyHash([]byte("plain"))) != g {
		t.Fatal("insert and lookup by key do not agree with keyHash")
	}
}
