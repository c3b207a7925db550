// Package redisstore is the Redis state backend (state.backend: redis): the
// store under alerting's outbox lifecycle (an alerting.Ledger) that lets
// several secwatch replicas run active-active on the same input and send
// each alert once, and the replicas' shared checkpoints. Replicas claim
// each alert_id atomically before queuing it, own the pending alerts they
// queued, adopt those of replicas whose lease expired, and keep working
// from memory while Redis is unreachable. The design, the key layout and
// the failure cases are in docs/scaling.md.
//
// It also keeps the silences, the silenced alerts and the alerts the
// Alertmanager notifier re-posts, and serves the silence and outbox
// commands (through daemon.OpenRedis). It imports alerting, rules (the
// alert document) and redact; only internal/daemon imports it.
package redisstore
