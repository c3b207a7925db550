package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/loggen"
)

func TestRunWritesLogAndTruth(t *testing.T) {
	dir := t.TempDir()
	out, truth := filepath.Join(dir, "x.log"), filepath.Join(dir, "x.truth.json")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-format", "alb", "-seed", "3", "-events", "800", "-ips", "60", "-duration", "2h",
		"-start", "2026-02-01T08:00:00Z", "-out", out, "-truth", truth}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v (stderr %q)", err, stderr.String())
	}
	var want bytes.Buffer
	tr, err := loggen.Generate(&want, loggen.Config{Format: "alb", Seed: 3, Events: 800, ClientIPs: 60,
		Duration: 2 * time.Hour, Start: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("-out differs from loggen.Generate with the same config")
	}
	var wantTruth bytes.Buffer
	if err := loggen.WriteTruth(&wantTruth, tr); err != nil {
		t.Fatal(err)
	}
	gotTruth, _ := os.ReadFile(truth)
	if !bytes.Equal(gotTruth, wantTruth.Bytes()) {
		t.Errorf("-truth:\n%s\nwant:\n%s", gotTruth, wantTruth.Bytes())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout not empty with -out: %q", stdout.String())
	}
}

func TestRunStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-events", "300", "-ips", "30"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 300 {
		t.Errorf("%d json lines on stdout, want 300", n)
	}
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--help"}, false, "usage: secwatch-loggen"},
		{[]string{"-format", "xml"}, true, `-format: want one of json, mcp-text, mcp-cloudwatch, alb, got "xml"`},
		{[]string{"-start", "yesterday"}, true, `-start: want RFC 3339, got "yesterday"`},
		{[]string{"-nope"}, true, "flag provided but not defined"},
		{[]string{"extra"}, true, `unexpected argument "extra"`},
		{[]string{"-events", "50", "-ips", "1000"}, false, "events: 50 is too few"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(tc.args, &stdout, &stderr)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		if got := errors.As(err, new(usageError)); got != tc.usage {
			t.Errorf("%v: usage error %v, want %v (%v)", tc.args, got, tc.usage, err)
		}
		if msg := err.Error() + stderr.String(); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q does not mention %q", tc.args, msg, tc.want)
		}
		if tc.args[0] == "--help" && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("--help: got %v, want flag.ErrHelp", err)
		}
	}
}
