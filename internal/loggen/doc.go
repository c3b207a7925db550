// Package loggen writes deterministic synthetic security logs, with the exact
// truth of what a correct monitor must find in them.
//
// It sits beside secwatch, not inside it: nothing in secwatch imports it.
// The recorded logs under testdata/logs, the 1,000,000-event benchmark
// corpus (bench/) and rule tests are made with it, via cmd/secwatch-loggen.
//
// One simulated world — client IPs, sessions, benign traffic, attackers,
// near misses, probers — is rendered in one of four line shapes (Format):
//
//   - "json": the structured SecurityEvent JSON a fixed server would write,
//     one event per line, with the true client IP;
//   - "mcp-text": what the real MCP server writes to its console (stderr and
//     stdout merged, as ECS ships them): application lines, SECURITY console
//     lines, uvicorn access lines with the ALB node's private address;
//   - "mcp-cloudwatch": the CloudWatch JSON envelopes of the server's
//     security and application streams;
//   - "alb": AWS Application Load Balancer access log lines.
//
// The same Config always gives byte-identical output: all randomness comes
// from PCG generators seeded from Config.Seed, no map is iterated, and the
// clock is never read.
//
// # The truth
//
// The headline rule is "more than 10 authentication failures within 5
// minutes" (the window half-open, (T-5m, T], as in docs/rules.md). Every
// failure is placed so that the Truth is exact by construction:
//
//   - each attacker makes one burst of 11-40 failures spanning less than
//     5 minutes, and no other failure within 5 minutes of it;
//   - each near miss makes exactly 10 failures within 5 minutes (every third
//     one adds an 11th exactly 5 minutes after the first, which a half-open
//     window must not count together with the first);
//   - every other failure is placed only where no 5-minute window would
//     hold more than 5 failures of its key.
//
// The key is the client IP for json and alb. The mcp formats do not carry the
// client IP (the server logs the ALB node's address), so their key is the
// whole log: bursts and near misses get time slots 25 minutes apart, and
// Truth.Attackers lists burst windows instead of addresses.
package loggen
