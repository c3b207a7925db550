// Package yamldiag reads YAML files strictly and reports every problem at
// once, with its position, the way go vet does: the rule files, the rule
// tests and the configuration file all walk their nodes through one
// Walker, so they refuse the same things (aliases, custom tags, duplicate
// keys, a second document) with the same words, and suggest the same
// corrections for misspelt keys.
//
// It is a leaf of the dependency map: it imports only the YAML parser.
// rulefile, ruletest and config build on it.
package yamldiag
