// Package format holds secwatch's log formats: a Parser turns one line
// into an event.Event (NewParser, Formats).
//
// It imports internal/event (and internal/redact and internal/yamldiag, for
// error messages and their suggestions) and nothing that reads input: the
// sources of internal/ingest hand it lines.
// The fields each format produces, and its time rules, are documented in
// docs/formats.md.
package format
