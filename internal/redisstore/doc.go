// Package redisstore is the Redis state backend (state.backend: redis): the
// store under alerting's outbox lifecycle (an alerting.Ledger) that lets
// several secwatch replicas run active-active on the same input and send
// each alert once, and the replicas' shared checkpoints. Replicas claim
// each alert_id atomically before queuing it, own the pending alerts they
// queued, adopt those of replicas whose lease expired, and keep working
// from memory while Redis is unreachable. The design, the key layout and
// the failure cases are in docs/scaling.md.
//
// It also keeps the silences and the silenced alerts, and serves the
// silence and outbox commands. It imports alerting, rules (the alert
// document) and redact; internal/daemon opens it, and cmd/secwatch's
// silence and outbox commands use the store daemon.OpenRedis returns.
package redisstore
