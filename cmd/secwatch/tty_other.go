//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

// isTerminalFd is false where terminals are not detected: output is then
// formatted for programs (JSON) and no progress line is drawn.
func isTerminalFd(uintptr) bool { return false }
