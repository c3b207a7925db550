// Package pattern compiles secwatch rule matches to CloudWatch Logs filter
// patterns and evaluates filter patterns locally, as CloudWatch would.
//
// It sits under internal/alarms in the dependency map: it imports only
// internal/rules (the compiled Match tree) and internal/event. The
// reconciler uses Compile for each rule with an alarm block; `secwatch
// alarms plan --verify` uses Parse, Match and Verify to replay recorded logs
// through both a rule and its pattern, the offline twin of
// `aws logs test-metric-filter`.
//
// Compile is exact or fails: a condition that a filter pattern cannot
// express with the same meaning is an error naming the rule and the
// condition, never a broader pattern. Parse accepts the filter-pattern
// syntax users write (terms, quoted phrases, ? alternatives, - exclusions,
// %regex%, JSON property patterns and space-delimited patterns); Pattern is
// immutable and safe for concurrent use.
package pattern
