package loggen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeterministic(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			cfg := Config{Format: format, Seed: 42, Events: 3000, ClientIPs: 100, Duration: 4 * time.Hour}
			a, ta := generate(t, cfg)
			b, tb := generate(t, cfg)
			if !bytes.Equal(a, b) {
				t.Fatal("same config, different output")
			}
			var ja, jb bytes.Buffer
			if err := WriteTruth(&ja, ta); err != nil {
				t.Fatal(err)
			}
			if err := WriteTruth(&jb, tb); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ja.Bytes(), jb.Bytes()) {
				t.Fatal("same config, different truth")
			}
			cfg.Seed = 43
			if c, _ := generate(t, cfg); bytes.Equal(a, c) {
				t.Fatal("seeds 42 and 43 gave the same output")
			}
		})
	}
}

// TestSameTraffic checks that the formats sharing a key scope render the
// same simulated traffic for the same Config.
func TestSameTraffic(t *testing.T) {
	for _, pair := range [][2]string{{"json", "alb"}, {"mcp-text", "mcp-cloudwatch"}} {
		cfg := Config{Format: pair[0], Seed: 5, Events: 2000, ClientIPs: 60, Duration: 3 * time.Hour}
		a, ta := generate(t, cfg)
		cfg.Format = pair[1]
		b, tb := generate(t, cfg)
		fa, fb := readFailures(t, pair[0], a), readFailures(t, pair[1], b)
		if len(fa) != len(fb) {
			t.Fatalf("%s has %d failures, %s %d", pair[0], len(fa), pair[1], len(fb))
		}
		for i := range fa {
			if fa[i].key != fb[i].key || fa[i].t/1000 != fb[i].t/1000 {
				t.Fatalf("failure %d: %s has %+v, %s %+v", i, pair[0], fa[i], pair[1], fb[i])
			}
		}
		if strings.Join(ta.Attackers, ",") != strings.Join(tb.Attackers, ",") {
			t.Errorf("%s and %s have different attackers", pair[0], pair[1])
		}
	}
}

// TestDuplicationTrap checks the mcp formats write every failure the way
// the real server does: several lines mention it, one of each shape.
func TestDuplicationTrap(t *testing.T) {
	for _, tc := range []struct {
		format  string
		mention int // lines containing "authentication_failure" per failure
		access  int // uvicorn 401 lines per failure
	}{
		{"mcp-text", 3, 1},
		{"mcp-cloudwatch", 3, 0},
	} {
		data, tr := generate(t, Config{Format: tc.format, Seed: 11, Events: 2000, ClientIPs: 60, Duration: 3 * time.Hour})
		n := tr.Counts["authentication_failure"]
		counts := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			l := sc.Text()
			for _, s := range []string{"authentication_failure", "Authentication failure: ", `" 401 Unauthorized`, " - SECURITY - "} {
				if strings.Contains(l, s) {
					counts[s]++
				}
			}
		}
		if got := counts["authentication_failure"]; got != tc.mention*n {
			t.Errorf("%s: %d lines mention authentication_failure, want %d × %d failures", tc.format, got, tc.mention, n)
		}
		if got := counts["Authentication failure: "]; got != n {
			t.Errorf("%s: %d auth middleware lines, want %d", tc.format, got, n)
		}
		if got := counts[`" 401 Unauthorized`]; got != tc.access*n {
			t.Errorf("%s: %d access lines with 401, want %d", tc.format, got, tc.access*n)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"format", Config{Format: "xml"}, `format: must be one of`},
		{"duration", Config{Duration: time.Minute}, "duration: must be at least 30m"},
		{"ips", Config{ClientIPs: -1}, "ips: must be between"},
		{"too few events", Config{Events: 100, ClientIPs: 1000}, "events: 100 is too few"},
		{"too few ips", Config{ClientIPs: 5}, "ips: 5 are too few"},
		{"mcp slots", Config{Format: "mcp-text", Duration: time.Hour, ClientIPs: 100}, "duration: 1h0m0s holds 2 bursts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(new(bytes.Buffer), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRecordedLogs regenerates every log in testdata/logs from the config
// its truth file records and compares bytes, so that the recorded logs can
// always be made again (scripts/gen-testdata.sh) and their truth is exact.
func TestRecordedLogs(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "logs")
	truths, err := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(truths) < 4 {
		t.Fatalf("found %d truth files in %s, want at least 4", len(truths), dir)
	}
	for _, tf := range truths {
		base := strings.TrimSuffix(tf, ".truth.json")
		logs, _ := filepath.Glob(base + ".*")
		var logFile string
		for _, l := range logs {
			if l != tf {
				logFile = l
			}
		}
		t.Run(filepath.Base(base), func(t *testing.T) {
			if logFile == "" {
				t.Fatalf("no log next to %s", tf)
			}
			wantTruth, err := os.ReadFile(tf)
			if err != nil {
				t.Fatal(err)
			}
			wantLog, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			var recorded Truth
			if err := jsonUnmarshal(wantTruth, &recorded); err != nil {
				t.Fatal(err)
			}
			cfg, err := recorded.ConfigUsed()
			if err != nil {
				t.Fatal(err)
			}
			gotLog, tr := generate(t, cfg)
			var gotTruth bytes.Buffer
			if err := WriteTruth(&gotTruth, tr); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotLog, wantLog) {
				t.Errorf("%s differs from what the generator makes now; if the change is intended, run scripts/gen-testdata.sh and review the diff", logFile)
			}
			if !bytes.Equal(gotTruth.Bytes(), wantTruth) {
				t.Errorf("%s differs from what the generator makes now; run scripts/gen-testdata.sh", tf)
			}
			for _, p := range verify(readFailures(t, tr.Format, wantLog), recorded) {
				t.Error(p)
			}
		})
	}
}

func jsonUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
