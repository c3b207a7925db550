// Package sigma converts Sigma detection and correlation rules
// (specification v2) into native secwatch rules, as rule-file YAML that the
// rules loader reads like a hand-written file.
//
// It sits beside internal/rules in the dependency map: it depends only on
// the YAML parser and the standard library, so that the rules loader can
// call it (a Sigma file in the daemon's rules list is converted at load)
// and `secwatch sigma convert` can print what it produces. It never imports
// ingest, alerting, daemon, config or cmd.
//
// Field names go through a pipeline (alb, webserver or json, see
// Pipelines). Every problem is reported at once with the Sigma file's line
// and column; a rule that needs a field the pipeline lacks is skipped with a
// warning naming the field. docs/sigma.md describes what is supported and
// how each correlation maps onto threshold, distinct and sequence rules.
package sigma
