// Command decodeloop is the benchmark's baseline ("1×"): the plain way to
// read the structured security events, a bufio.Scanner and encoding/json
// decoding every line into a struct, with its timestamp parsed. It counts
// authentication failures so that the work cannot be skipped, and prints
// the counts to standard error.
//
//	decodeloop [-scan] FILE
//
// With -scan it only splits lines: the ceiling any line-oriented reader
// works under.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// securityEvent has the fields of the server's SecurityEvent JSON that a
// rule on this corpus reads.
type securityEvent struct {
	EventType string `json:"event_type"`
	Severity  string `json:"severity"`
	Message   string `json:"message"`
	ClientIP  string `json:"client_ip"`
	Details   struct {
		FailureType string `json:"failure_type"`
		ClientIP    string `json:"client_ip"`
		Method      string `json:"method"`
		Path        string `json:"path"`
		Origin      string `json:"origin"`
		Timestamp   string `json:"timestamp"`
	} `json:"details"`
	SessionID *string `json:"session_id"`
	ToolName  *string `json:"tool_name"`
	Timestamp string  `json:"timestamp"`
}

// layout is Python's naive isoformat; the fraction is optional.
const layout = "2006-01-02T15:04:05.999999"

func main() {
	scan := flag.Bool("scan", false, "only split lines, decode nothing")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: decodeloop [-scan] FILE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "decodeloop:", err)
		os.Exit(1)
	}
	defer f.Close()
	if *scan {
		err = scanOnly(f, os.Stderr)
	} else {
		err = decode(f, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "decodeloop:", err)
		os.Exit(1)
	}
}

func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return sc
}

func scanOnly(r io.Reader, report io.Writer) error {
	sc := newScanner(r)
	lines, bytes := 0, 0
	for sc.Scan() {
		lines++
		bytes += len(sc.Bytes())
	}
	fmt.Fprintf(report, "lines %d, bytes %d\n", lines, bytes)
	return sc.Err()
}

func decode(r io.Reader, report io.Writer) error {
	sc := newScanner(r)
	lines, failures := 0, 0
	var last time.Time
	for sc.Scan() {
		lines++
		var e securityEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("line %d: %w", lines, err)
		}
		t, err := time.Parse(layout, e.Timestamp)
		if err != nil {
			return fmt.Errorf("line %d: %w", lines, err)
		}
		if e.EventType == "authentication_failure" {
			failures++
		}
		if t.After(last) {
			last = t
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if lines == 0 {
		return errors.New("no lines")
	}
	fmt.Fprintf(report, "lines %d, authentication failures %d, last %s\n", lines, failures, last.Format(time.RFC3339Nano))
	return nil
}
