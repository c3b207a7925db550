// Package alarms provisions CloudWatch metric filters and alarms from
// secwatch rules and audits the alarms of an account (docs/alarms.md,
// docs/aws.md).
//
// Desired turns the rules that carry an `alarm:` block, plus the heartbeat
// and optional ingestion-lag alarms, into the resources secwatch wants to
// exist; a Reconciler reads what exists, compares the two into a
// Plan (create, update, delete, field by field) and applies it. Every
// resource is named secwatch-<rule-id>; alarms are tagged secwatch:managed,
// secwatch:rule and secwatch:hash, and nothing without that tag is ever
// changed or deleted. An Auditor inspects every alarm of a region and reports
// the ones that cannot do their job: a metric nobody publishes with that
// exact dimension set, no actions, actions to topics that do not exist.
//
// It sits beside alerting in the dependency map: cmd builds the AWS clients
// and hands them over through small unexported interfaces listing the
// methods called; alarms imports rules and alarms/pattern (the filter-pattern
// compiler) and never alerting. Nothing here runs concurrently: a Reconciler
// or Auditor is used by one goroutine.
package alarms
