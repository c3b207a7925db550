// Package rulefile is the rule file format: it reads rule files and
// directories, decodes their YAML strictly and validates and compiles each
// rule into a rules.Rule, reporting every problem at once with its
// position (docs/rules.md, "Error messages"). It also writes a compiled
// match condition back in the rule language (FormatMatch) and computes the
// hash that tells a changed rule on reload.
//
// It sits between the engine (internal/rules), whose types it builds, and
// its callers (cmd, daemon, ruletest); its diagnostics are
// internal/yamldiag's.
package rulefile
