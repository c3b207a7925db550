// Package shared is the Redis state backend (state.backend: redis) that
// lets several secwatch replicas run active-active on the same input and
// send each alert once (design section 11, docs/scaling.md).
//
// Every replica reads all of the input and runs its own engine; engines are
// deterministic, so replicas fire the same alerts with the same alert_id.
// What the replicas share in Redis is:
//
//   - a claim per alert_id, taken atomically (a Lua script: the equivalent
//     of SET NX PX) when an alert is queued, so that only the first replica
//     to fire an alert queues it;
//   - the outbox: pending alerts in a hash, each owned by the replica that
//     claimed it; a replica whose heartbeat key expires (a lease) has its
//     pending alerts adopted and delivered by a live one;
//   - dead letters, and every replica's newest checkpoint (engine windows,
//     cooldowns and cursors), so that a replacement without local disk
//     resumes where the newest replica was.
//
// Nothing on the per-event path talks to Redis: only queuing an alert, a
// delivery outcome, a checkpoint, and one heartbeat script per lease/3
// (which also adopts and re-syncs, pipelined). When Redis is unreachable
// the Outbox keeps working from memory — an alert is queued locally and
// delivered without the cross-replica claim (so replicas may each send it
// once) — and writes what Redis missed once it is back.
//
// Key layout, under Options.KeyPrefix (default "secwatch:"):
//
//	alert:<id>        claim: the owning replica, "done" or "dead"; expires after the dedup horizon
//	outbox            hash alert_id -> Entry JSON (pending alerts)
//	owner             hash alert_id -> replica id
//	dead              hash alert_id -> Entry JSON (dead letters)
//	replica:<id>      heartbeat, expires after the lease
//	checkpoint:<scope>:<id>  a replica's newest checkpoint, expires after 7 days;
//	                  the scope names the input (Options.Scope)
//
// Scripts touch keys built from the prefix, so the backend needs a single
// Redis (standalone, or a primary with replicas/Sentinel), not Redis
// Cluster — unless the prefix is a hash tag such as "{secwatch}:".
//
// shared sits beside internal/alerting, whose Queue its Outbox implements;
// internal/daemon builds it from the configuration. It imports alerting,
// rules (the alert document) and redact, and nothing imports it but daemon.
package redisstore
