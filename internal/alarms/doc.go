// Package alarms provisions CloudWatch metric filters and alarms from
// secwatch rules and audits the alarms of an account (docs/alarms.md).
//
// Desired turns the rules that carry an `alarm:` block, plus the heartbeat
// and optional ingestion-lag alarms, into the resources secwatch wants; a
// Reconciler compares them with what exists into a Plan and applies it,
// never changing a resource without the secwatch:managed tag. An Auditor
// reports the alarms of a region that cannot do their job.
//
// cmd builds the AWS clients and hands them over through small unexported
// interfaces; alarms imports rules and alarms/pattern and never alerting.
// A Reconciler or Auditor is used by one goroutine.
package alarms
