// Package ingest holds secwatch's sources: it reads log lines from files,
// standard input and CloudWatch Logs (and recorded logs, for replay) and
// turns them into events with the formats of internal/format.
//
// In the dependency map it sits beside the engine: it imports
// internal/event and internal/format, and never internal/alerting,
// internal/alarms or cmd. It does no logging; bad lines are reported to
// the caller, who counts and logs them.
//
// Pieces: Reader splits a stream into lines with positions, in bounded
// memory; Decoding turns the lines of one input into events, the same way
// for every source and for Replay (parser, far-future guard, counters,
// @ fields); the sources (File, Stdin, CloudWatch) send Records with
// cursors of their own types; Replay merges recorded inputs by time.
// What each format produces, and how File follows rotation and resumes
// from its cursors, is in docs/formats.md.
package ingest
