package ingest

import (
	"io"
	"os"
)

// readAheadBlock is the size of each block a readAhead reads; readAheadBlocks
// blocks are in flight at most (read and not yet consumed, or being read).
const (
	readAheadBlock  = 256 << 10
	readAheadBlocks = 3
)

// readAhead reads r on a goroutine of its own, up to readAheadBlocks blocks
// ahead of its consumer, so that a replay's read system calls (the copy
// from the page cache: about a tenth of a replay's time) overlap its
// parsing and rules instead of adding to them. Bytes and errors reach the
// consumer in the order r gave them; an error is returned after the bytes
// read before it. Close stops the goroutine (at its next block) when the
// consumer stops early.
type readAhead struct {
	full chan aheadBlock
	free chan []byte
	done chan struct{}
	cur  []byte // the unread rest of the current block
	buf  []byte // the current block's buffer, returned to free once read
	err  error  // sticky, once every byte before it was read
}

type aheadBlock struct {
	b   []byte
	err error
}

// newReadAhead returns r wrapped in a readAhead when r is a regular file
// (whose reads end: a pipe or terminal could block the goroutine after the
// consumer stopped), and r itself otherwise, with a function that stops the
// goroutine.
func newReadAhead(r io.Reader) (io.Reader, func()) {
	if !regularFile(r) {
		return r, func() {}
	}
	a := startReadAhead(r)
	return a, a.close
}

// regularFile reports whether r is an open regular file: its reads end
// (with bytes or EOF), where a pipe's or a terminal's may wait for ever.
func regularFile(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// startReadAhead starts reading r ahead.
func startReadAhead(r io.Reader) *readAhead {
	a := &readAhead{
		full: make(chan aheadBlock, readAheadBlocks),
		free: make(chan []byte, readAheadBlocks),
		done: make(chan struct{}),
	}
	for range readAheadBlocks {
		a.free <- make([]byte, readAheadBlock)
	}
	go a.run(r)
	return a
}

func (a *readAhead) run(r io.Reader) {
	for {
		var b []byte
		select {
		case b = <-a.free:
		case <-a.done:
			return
		}
		n, err := r.Read(b)
		if n == 0 && err == nil {
			continue // io.Reader allows it; try again
		}
		select {
		case a.full <- aheadBlock{b: b[:n], err: err}:
		case <-a.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *readAhead) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)] // never blocks: free holds every buffer
			a.buf = nil
		}
		blk := <-a.full
		a.cur, a.buf, a.err = blk.b, blk.b, blk.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

func (a *readAhead) close() {
	select {
	case <-a.done:
	default:
		close(a.done)
	}
}
