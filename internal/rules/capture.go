package rules

// A checkpoint needs the engine's state at one instant. Copying every group
// at that instant stops the engine for as long as the copy takes, and with
// a hundred thousand groups scattered over a large heap that is 50–200 ms
// of lines waiting. So the copy is copy-on-write:
//
//   - BeginCapture copies the engine's and the rules' counters, and each
//     absent rule's groups (their list is ordered by time, not by use, and
//     they are few), and starts an epoch.
//   - CaptureStep copies a few groups at a time, walking each other rule's
//     list from the front, skipping groups already copied.
//   - Before the engine changes, moves or drops a group not yet copied in
//     this epoch, it copies it (cow). A group made after the beginning is
//     marked copied: it was not there at the instant.
//
// The image so holds each group as it was at the beginning. Lists of
// threshold, distinct and sequence rules are ordered by last use, and a
// group only ever joins its list at the back (groupSet.pushBack), which
// numbers it (useSeq): the list order at the beginning is the order of the
// numbers the groups had then, which is what the image keeps (ord) and how
// AppendTo sorts them back.
//
// Every path that changes, moves or drops a group of those rules goes
// through groupFor (eviction included), sweep or unsealGroup, and each
// calls cow first (checkAbsent drops only absent rules' groups). Replace
// and Restore finish a capture in progress before they change the rules.
// TestCaptureCopyOnWrite or TestCaptureCopyOnWriteSealed fails when any of
// those cow calls, the cursor's move, the marking of new groups or the
// numbering is left out.

// capture is a copy-on-write capture in progress.
type capture struct {
	img    *Image
	epoch  uint32
	rule   int    // the rule the walk is in; -1 before the first
	cursor *group // the next group of that rule's list to look at
	sealed []int  // per rule: groups copied still keyed by sealed values
	old    int    // len(img.strs) before the capture
}

// BeginCapture starts copying the engine's state into img, replacing what
// it held, as of now; CaptureStep and FinishCapture complete it. Until
// then the engine may go on observing: img ends up holding the state at
// this call. A capture still in progress is finished first.
func (e *Engine) BeginCapture(img *Image) {
	if e.cap != nil {
		e.FinishCapture()
	}
	e.capEpoch++
	c := &e.capBuf
	*c = capture{img: img, epoch: e.capEpoch, rule: -1, sealed: c.sealed[:0], old: len(img.strs)}
	*img = Image{
		now: e.now, clock: e.clock, seq: e.seq,
		rules: img.rules[:0], groups: img.groups[:0], order: img.order,
		strs: img.strs[:0], bytes: img.bytes[:0], ints: img.ints[:0], u32s: img.u32s[:0],
	}
	for i, rs := range e.rules {
		rs.capIdx = int32(i)
		img.rules = append(img.rules, imageRule{id: rs.rule.ID, hash: rs.rule.Hash, distinct: rs.rule.Distinct, stats: rs.stats, now: rs.now})
		c.sealed = append(c.sealed, 0)
		if rs.rule.Kind != KindAbsent || rs.groups == nil {
			continue
		}
		pos := uint64(0)
		for g := rs.groups.front; g != nil; g = g.next {
			c.copy(rs, g, pos)
			pos++
		}
	}
	e.cap = c
}

// CaptureStep copies up to n groups (looking at a group already copied
// counts as one) and reports whether the capture is complete. Without a
// capture in progress it reports true.
func (e *Engine) CaptureStep(n int) bool {
	c := e.cap
	if c == nil {
		return true
	}
	for ; n > 0; n-- {
		for c.cursor == nil {
			c.rule++
			if c.rule >= len(e.rules) {
				e.endCapture()
				return true
			}
			if rs := e.rules[c.rule]; rs.rule.Kind != KindAbsent && rs.groups != nil {
				c.cursor = rs.groups.front
			}
		}
		g := c.cursor
		c.cursor = g.next
		if g.capEpoch != c.epoch {
			rs := e.rules[c.rule]
			c.copy(rs, g, g.useSeq)
		}
	}
	return false
}

// FinishCapture completes a capture in progress at once.
func (e *Engine) FinishCapture() {
	for !e.CaptureStep(1 << 30) {
	}
}

func (e *Engine) endCapture() {
	c := e.cap
	img := c.img
	for _, ig := range img.groups {
		img.rules[ig.rule].groups++
	}
	for i, rs := range e.rules {
		// Restored groups dropped or unsealed since: an upper bound, as
		// none is sealed anew after a restore.
		rs.sealed = c.sealed[i]
	}
	if n := len(img.strs); n < c.old {
		clear(img.strs[n:c.old]) // let go of the previous capture's strings
	}
	e.cap, c.img, c.cursor = nil, nil, nil
}

// cow copies g, which rs is about to change, move or drop, unless it is
// already in the capture in progress. Call it only while one is (e.cap).
func (e *Engine) cow(rs *ruleState, g *group) {
	c := e.cap
	if g == c.cursor {
		c.cursor = g.next // g may move or leave the list
	}
	if g.capEpoch != c.epoch {
		c.copy(rs, g, g.useSeq)
	}
}

// copy appends g to the image; ord is its place in its rule's list.
func (c *capture) copy(rs *ruleState, g *group, ord uint64) {
	g.capEpoch = c.epoch
	c.img.group(g, rs.capIdx, ord)
	if g.recountSealed() {
		c.sealed[rs.capIdx]++
	}
}
