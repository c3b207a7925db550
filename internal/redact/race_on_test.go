//go:build race

package redact

// raceOn: the race detector slows the generated-text tests about tenfold;
// they run on fewer texts under it (the plain run covers them all).
const raceOn = true
