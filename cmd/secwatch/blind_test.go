package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// blindFileConfig writes a config whose file source tails pattern.
func blindFileConfig(t *testing.T, dir, pattern string) (cfg, rulesPath string) {
	t.Helper()
	rulesPath, err := filepath.Abs("../../rules/mcp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = writeFile(t, dir, "secwatch.yaml", fmt.Sprintf(`state_dir: %q
rules: [%q]
sources:
  - {name: mcp, type: file, format: mcp, paths: [%q], start: beginning}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: ""}
log: {level: info, format: json}
`, filepath.Join(dir, "state"), rulesPath, pattern))
	return cfg, rulesPath
}

// TestRunOnceFileDirectoryGone: a file source whose directory does not
// exist (deleted, not mounted) is not "nothing new": run --once exits 3
// and says what to check; once the directory is back, the next run reads
// it and gives the alerts of a replay.
func TestRunOnceFileDirectoryGone(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	cfg, rulesPath := blindFileConfig(t, dir, filepath.Join(logs, "*.log"))

	out, errb, code := runOnce(t, cfg)
	// The one alert is the self-alert saying the source was not read.
	if as := parseAlerts(t, out); code != exitBlind || len(as) != 1 || as[0].Rule != "secwatch-source-down" || as[0].Group["source"] != "mcp" {
		t.Fatalf("directory gone: got exit %d and alerts %+v, want %d and one secwatch-source-down; stderr:\n%s", code, as, exitBlind, errb)
	}
	for _, want := range []string{`"message":"source cannot read"`, `"kind":"permanent"`, `"where":"` + logs + `"`, "exists", `"message":"run summary"`} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %s:\n%s", want, errb)
		}
	}
	if strings.Contains(errb, "line rejected") {
		t.Errorf("a read error reported as a rejected line:\n%s", errb)
	}

	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../testdata/logs/mcp-stderr.log")
	if err != nil {
		t.Fatal(err)
	}
	logPath := writeFile(t, logs, "live.log", string(src))
	out, errb, code = runOnce(t, cfg)
	if code != exitOK {
		t.Fatalf("directory back: got exit %d, want 0; stderr:\n%s", code, errb)
	}
	replayed, _, _ := secwatch(t, "", "replay", "--rules", rulesPath, "--format", "mcp", "--source", "mcp", logPath)
	got, want := len(parseAlerts(t, out)), len(parseAlerts(t, replayed))
	if got != want || want == 0 {
		t.Errorf("directory back: got %d alerts, want the replay's %d (> 0)", got, want)
	}
}

// TestRunOnceFileUnreadable: a file the daemon may not open makes run
// --once exit 3 with what to check. Root opens any file, so the test needs
// another user.
func TestRunOnceFileUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may open a file without read permission")
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "app.log", "x\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	cfg, _ := blindFileConfig(t, dir, p)
	_, errb, code := runOnce(t, cfg)
	if code != exitBlind || !strings.Contains(errb, "may read "+p) {
		t.Errorf("got exit %d, want %d and what to check; stderr:\n%s", code, exitBlind, errb)
	}
}

// TestRunOnceTimelessLinesStraddleSplit: mcp access lines carry no time
// and take the time of the line before. Two --once runs over a file whose
// access lines straddle the split give exactly the alerts of one replay:
// the second run's first access lines inherit the time kept in the
// file's cursor instead of being rejected.
func TestRunOnceTimelessLinesStraddleSplit(t *testing.T) {
	dir := t.TempDir()
	rulesPath := writeFile(t, dir, "rules.yaml", `rules:
  - id: unauthorized-burst
    match: {shape: access}
    window: 5m
    threshold: 4
`)
	access := `INFO:     10.0.1.57:54011 - "POST /mcp HTTP/1.1" 401 Unauthorized` + "\n"
	first := "2026-01-28 18:59:56,117 - mcp_server.main - INFO - [-] - Starting\n" + strings.Repeat(access, 3)
	second := strings.Repeat(access, 3)
	logPath := writeFile(t, dir, "mcp.log", first)
	cfg := writeFile(t, dir, "secwatch.yaml", fmt.Sprintf(`state_dir: %q
rules: [%q]
sources:
  - {name: mcp, type: file, format: mcp, paths: [%q], start: beginning}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: ""}
log: {level: info, format: json}
`, filepath.Join(dir, "state"), rulesPath, logPath))

	var got []alertDoc
	for i, part := range []string{"", second} {
		if part != "" {
			f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(part); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		out, errb, code := runOnce(t, cfg)
		if code != exitOK || strings.Contains(errb, "line rejected") {
			t.Fatalf("run %d: exit %d; stderr:\n%s", i+1, code, errb)
		}
		got = append(got, parseAlerts(t, out)...)
	}
	replayed, errb, _ := secwatch(t, "", "replay", "--rules", rulesPath, "--format", "mcp", "--source", "mcp", logPath)
	want := parseAlerts(t, replayed)
	if len(want) == 0 {
		t.Fatalf("the replay gives no alert; the test means nothing:\n%s", errb)
	}
	if len(got) != len(want) {
		t.Fatalf("two runs gave %d alerts, the replay %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Errorf("alert %d: got id %s, want the replay's %s", i, got[i].ID, want[i].ID)
		}
	}
}
