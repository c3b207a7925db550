// Package loggen writes deterministic synthetic security logs, with the exact
// truth of what a correct monitor must find in them.
//
// Nothing in secwatch imports it; cmd/secwatch-loggen makes the recorded
// logs under testdata/logs, the benchmark corpus (bench/) and rule test
// inputs with it. One simulated world is rendered in one of four line
// shapes (Format; testdata/logs/README.md shows each). The same
// Config always gives byte-identical output: all randomness comes from PCG
// generators seeded from Config.Seed, no map is iterated, and the clock is
// never read.
//
// The Truth is exact by construction: how attackers, near misses and other
// failures are placed, and why the mcp formats count over the whole log, is
// in testdata/logs/README.md ("The headline truth").
package loggen
