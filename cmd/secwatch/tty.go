package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// isTerminal reports whether w is a terminal: a file on which the terminal
// attributes can be read. Other character devices (/dev/null) are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && isTerminalFd(f.Fd())
}

// progress draws "N events…" on a terminal once a second, on one line
// that it clears before anything else is written to the terminal through a
// writer from before. Its methods are safe for concurrent use.
type progress struct {
	mu     sync.Mutex
	w      io.Writer // nil when disabled
	shown  bool
	events *atomic.Int64
	done   chan struct{}
	exited chan struct{}
}

// startProgress starts drawing on w when enabled (w is a terminal).
func startProgress(enabled bool, w io.Writer, events *atomic.Int64) *progress {
	p := &progress{events: events}
	if !enabled {
		return p
	}
	p.w, p.done, p.exited = w, make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.exited)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K%d events…", p.events.Load())
	p.shown = true
}

// clearLocked erases the line if it is shown.
func (p *progress) clearLocked() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// stop ends the drawing and clears the line.
func (p *progress) stop() {
	if p.w == nil {
		return
	}
	close(p.done)
	<-p.exited
	p.mu.Lock()
	p.clearLocked()
	p.mu.Unlock()
}

// before returns a writer to w that clears the progress line before each
// write, so that output never lands on the progress text.
func (p *progress) before(w io.Writer) io.Writer {
	if p.w == nil {
		return w
	}
	return clearingWriter{p, w}
}

type clearingWriter struct {
	p *progress
	w io.Writer
}

func (c clearingWriter) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.p.clearLocked()
	return c.w.Write(b)
}
