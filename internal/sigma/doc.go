// Package sigma converts Sigma detection and correlation rules
// (specification v2) into native secwatch rules, as rule-file YAML that the
// rules loader reads like a hand-written file.
//
// It depends only on the YAML parser and the standard library, so that the
// rules loader can convert a Sigma file at load and `secwatch sigma convert`
// can print the result. Field names go through a pipeline (Pipelines). Every
// problem is reported at once with the Sigma file's line and column; a rule
// that needs a field the pipeline lacks is skipped with a warning.
// docs/sigma.md describes what is supported and how each correlation maps
// onto threshold, distinct and sequence rules.
package sigma
