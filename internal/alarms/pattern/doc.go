// Package pattern compiles secwatch rule matches to CloudWatch Logs filter
// patterns and evaluates filter patterns locally, as CloudWatch would.
//
// It sits under internal/alarms: it imports only internal/rules and
// internal/event. The reconciler uses Compile; `secwatch alarms plan
// --verify` uses Parse and Match to replay recorded logs through both a
// rule and its pattern (docs/alarms.md).
//
// Compile is exact or fails: a condition that a filter pattern cannot
// express with the same meaning is an error naming the rule and the
// condition, never a broader pattern. Parse accepts the filter-pattern
// syntax users write; Pattern is immutable and safe for concurrent use.
package pattern
