// Command harness runs the replay benchmark (make bench, via bench/run.sh):
// the line-scan ceiling, the encoding/json decode loop (the baseline, 1×)
// and secwatch replay with one and with ten rules, interleaved for a number
// of rounds on the same corpus, each under bench/measure. It prints the
// medians and checks secwatch's alerts for the headline rule against the
// corpus truth.
//
// It exits 1 when detection is not exact or a command fails; timings are
// only reported, never judged (they depend on the machine and its load).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/secwatch/secwatch/internal/loggen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	corpus, truth                 string
	measure, decodeloop, secwatch string
	rules1, rules10, rulesHeavy   string
	headline                      string
	rounds                        int
	work                          string
}

const (
	decodeLoop = "encoding/json decode loop"
	rules10    = "secwatch replay, 10 rules"
	ruleHeavy  = "secwatch replay, rule-heavy"
)

// program is one row of the table.
type program struct {
	name  string
	args  []string
	rules string // secwatch rows: the rule file
	runs  []report
}

// report is bench/measure's output.
type report struct {
	ExitCode    int     `json:"exit_code"`
	WallSeconds float64 `json:"wall_seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	MaxRSSKiB   int64   `json:"max_rss_kib"`
	stdout      string
	stderr      string
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.StringVar(&o.corpus, "corpus", "", "JSON corpus `file` (secwatch-loggen -format json)")
	fs.StringVar(&o.truth, "truth", "", "the corpus's truth `file`")
	fs.StringVar(&o.measure, "measure", "bin/measure", "bench/measure `binary`")
	fs.StringVar(&o.decodeloop, "decodeloop", "bin/decodeloop", "bench/decodeloop `binary`")
	fs.StringVar(&o.secwatch, "secwatch", "bin/secwatch", "secwatch `binary`")
	fs.StringVar(&o.rules1, "rules1", "bench/rules1.yaml", "rule `file` with the headline rule only")
	fs.StringVar(&o.rules10, "rules10", "bench/rules10.yaml", "rule `file` with ten rules")
	fs.StringVar(&o.rulesHeavy, "rulesheavy", "bench/rulesheavy.yaml", "rule `file` every event matches one to three rules of")
	fs.StringVar(&o.headline, "headline", "mcp-auth-failure-burst", "`id` of the headline rule in both rule files")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved `rounds`")
	fs.StringVar(&o.work, "work", "", "`directory` for the programs' outputs (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.corpus == "" || o.truth == "" || o.rounds < 1 {
		return errors.New("need -corpus, -truth and -rounds >= 1")
	}
	var truth loggen.Truth
	b, err := os.ReadFile(o.truth)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		return fmt.Errorf("%s: %w", o.truth, err)
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "secwatch-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.work)
	}

	progs := []*program{
		{name: "line scan (bufio)", args: []string{o.decodeloop, "-scan", o.corpus}},
		{name: decodeLoop, args: []string{o.decodeloop, o.corpus}},
		{name: "secwatch replay, 1 rule", rules: o.rules1,
			args: []string{o.secwatch, "replay", "--rules", o.rules1, "--format", "json", "--output", "json", o.corpus}},
		{name: rules10, rules: o.rules10,
			args: []string{o.secwatch, "replay", "--rules", o.rules10, "--format", "json", "--output", "json", o.corpus}},
		{name: ruleHeavy, rules: o.rulesHeavy,
			args: []string{o.secwatch, "replay", "--rules", o.rulesHeavy, "--format", "json", "--output", "json", o.corpus}},
	}
	fmt.Fprintf(out, "corpus %s: %d lines, %d client IPs, %d attackers, %d near misses\n",
		filepath.Base(o.corpus), truth.Lines, truth.Config.ClientIPs, len(truth.Attackers), len(truth.NearMisses))
	fmt.Fprintf(out, "machine: %d CPUs, load average %s (timings on a busy machine are noise; compare CPU time)\n",
		runtime.NumCPU(), loadAverage())
	for round := 1; round <= o.rounds; round++ {
		for i, p := range progs {
			r, err := measure(o, p, fmt.Sprintf("r%d-p%d", round, i))
			if err != nil {
				return err
			}
			if r.ExitCode != 0 {
				return fmt.Errorf("%s exited with %d:\n%s", strings.Join(p.args, " "), r.ExitCode, tail(r.stderr, 20))
			}
			p.runs = append(p.runs, r)
			fmt.Fprintf(out, "round %d: %-28s %7.2fs wall %7.2fs cpu %8.1f MiB\n",
				round, p.name, r.WallSeconds, r.CPUSeconds, float64(r.MaxRSSKiB)/1024)
		}
	}
	fmt.Fprintln(out)
	printTable(out, progs, truth.Lines)

	exact := true
	for _, p := range progs {
		if p.rules == "" {
			continue
		}
		fmt.Fprintf(out, "\n%s (%s): secwatch summary of the last round:\n%s", p.name, p.rules, indent(p.runs[len(p.runs)-1].stderr))
		for i, r := range p.runs {
			q, err := judge(r.stdout, o.headline, truth)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", p.name, i+1, err)
			}
			if i == len(p.runs)-1 {
				q.print(out, o.headline, len(truth.Attackers))
			}
			if !q.exact() {
				exact = false
				fmt.Fprintf(out, "DETECTION NOT EXACT in round %d\n", i+1)
			}
		}
	}
	printTargets(out, progs, exact)
	if !exact {
		return errors.New("detection is not exact (see above)")
	}
	fmt.Fprintln(out, "\ndetection exact: every attacker alerted once, no near miss, no false positive")
	return nil
}

// The issues' targets: throughput against the decode loop and peak RSS,
// per secwatch row.
var targets = []struct {
	program string
	issue   string
	ratio   float64
	rssMiB  float64
}{
	{rules10, "10 rules, issues 8 and 24", 3.5, 32},
	{ruleHeavy, "rule-heavy, issue 24", 2.5, 48},
}

// printTargets prints the targets with PASS or FAIL. The throughput ratio
// of a round divides the decode loop's time by the replay's in that same
// round (they run moments apart); the verdict takes the median over rounds,
// on wall time (throughput) and, shown beside it, on CPU time. Peak RSS is
// the largest over the rounds.
func printTargets(out io.Writer, progs []*program, exact bool) {
	byName := map[string]*program{}
	for _, p := range progs {
		byName[p.name] = p
	}
	dec := byName[decodeLoop]
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	for _, t := range targets {
		p := byName[t.program]
		if dec == nil || p == nil {
			continue
		}
		var wall, cpu []float64
		var rss int64
		for i := range p.runs {
			if i < len(dec.runs) {
				wall = append(wall, dec.runs[i].WallSeconds/p.runs[i].WallSeconds)
				cpu = append(cpu, dec.runs[i].CPUSeconds/p.runs[i].CPUSeconds)
			}
			rss = max(rss, p.runs[i].MaxRSSKiB)
		}
		w, c, m := median(wall), median(cpu), float64(rss)/1024
		fmt.Fprintf(out, "\ntargets (%s):\n", t.issue)
		fmt.Fprintf(out, "  %s  replay throughput >= %.1f× the decode loop: %.2f× on wall time, %.2f× on CPU time (median of per-round ratios %s)\n",
			verdict(w >= t.ratio), t.ratio, w, c, fmtRatios(wall))
		fmt.Fprintf(out, "  %s  peak RSS <= %.0f MiB: %.1f MiB (largest of %d rounds)\n", verdict(m <= t.rssMiB), t.rssMiB, m, len(p.runs))
	}
	fmt.Fprintf(out, "  %s  exact detections, every secwatch row (every attacker IP, no near miss, no false positive, no repeat)\n", verdict(exact))
}

func fmtRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

// measure runs p once under bench/measure, keeping its output in o.work.
func measure(o options, p *program, tag string) (report, error) {
	outFile := filepath.Join(o.work, tag+".stdout")
	errFile := filepath.Join(o.work, tag+".stderr")
	cmd := exec.Command(o.measure, append([]string{"-stdout", outFile, "-stderr", errFile, "--"}, p.args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var r report
	if jerr := json.Unmarshal(stdout.Bytes(), &r); jerr != nil {
		return r, fmt.Errorf("measure %s: %v %v: %s", p.name, err, jerr, stderr.String())
	}
	r.stdout = outFile
	b, _ := os.ReadFile(errFile)
	r.stderr = string(b)
	return r, nil
}

// loadAverage returns the 1-, 5- and 15-minute load averages, where known.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printTable prints the medians. The throughput ratio is given on wall time
// (what a user waits for) and on CPU time (user+sys, which another tenant
// of a shared machine disturbs less).
func printTable(out io.Writer, progs []*program, lines int) {
	type row struct {
		wall, cpu float64
		rss       int64
	}
	rows := make([]row, len(progs))
	var base row
	for i, p := range progs {
		var wall, cpu []float64
		for _, r := range p.runs {
			wall = append(wall, r.WallSeconds)
			cpu = append(cpu, r.CPUSeconds)
			rows[i].rss = max(rows[i].rss, r.MaxRSSKiB)
		}
		rows[i].wall, rows[i].cpu = median(wall), median(cpu)
		if p.name == decodeLoop {
			base = rows[i]
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tmedian wall s\tmedian CPU s\tlines/s (wall)\tvs decode loop (wall)\tvs decode loop (CPU)\tpeak RSS MiB\t")
	for i, p := range progs {
		r := rows[i]
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.0f\t%.2f×\t%.2f×\t%.1f\t\n",
			p.name, r.wall, r.cpu, float64(lines)/r.wall, base.wall/r.wall, base.cpu/r.cpu, float64(r.rss)/1024)
	}
	tw.Flush()
	fmt.Fprintln(out, "(ratio > 1: more lines per second than the decode loop; peak RSS is the largest over the rounds)")
}

// quality compares the headline rule's alerts with the truth.
type quality struct {
	alerts, found, missed, nearMiss, falsePos, repeats int
	perRule                                            map[string]int
	examples                                           []string
}

func (q quality) exact() bool {
	return q.missed == 0 && q.nearMiss == 0 && q.falsePos == 0 && q.repeats == 0
}

func (q quality) print(out io.Writer, headline string, attackers int) {
	fmt.Fprintf(out, "detection by %s: %d alerts; attackers found %d of %d, missed %d; near misses alerted %d (must be 0); false positives %d; repeated alerts %d\n",
		headline, q.alerts, q.found, attackers, q.missed, q.nearMiss, q.falsePos, q.repeats)
	for _, e := range q.examples {
		fmt.Fprintln(out, "  ", e)
	}
	ids := make([]string, 0, len(q.perRule))
	for id := range q.perRule {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fmt.Fprint(out, "alerts per rule:")
	for _, id := range ids {
		fmt.Fprintf(out, " %s=%d", id, q.perRule[id])
	}
	fmt.Fprintln(out)
}

// judge reads the alert documents secwatch wrote and compares the headline
// rule's groups with the truth's attackers and near misses.
func judge(alertFile, headline string, truth loggen.Truth) (quality, error) {
	q := quality{perRule: map[string]int{}}
	f, err := os.Open(alertFile)
	if err != nil {
		return q, err
	}
	defer f.Close()
	attackers := set(truth.Attackers)
	near := set(truth.NearMisses)
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		var a struct {
			Rule  string            `json:"rule"`
			Group map[string]string `json:"group"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return q, fmt.Errorf("alert line %d: %w", n, err)
		}
		q.perRule[a.Rule]++
		if a.Rule != headline {
			continue
		}
		q.alerts++
		ip := a.Group["client_ip"]
		seen[ip]++
		switch {
		case seen[ip] > 1:
			q.repeats++
			q.example("repeated alert for %s", ip)
		case attackers[ip]:
			q.found++
		case near[ip]:
			q.nearMiss++
			q.example("near miss alerted: %s", ip)
		default:
			q.falsePos++
			q.example("false positive: %s", ip)
		}
	}
	if err := sc.Err(); err != nil {
		return q, err
	}
	q.missed = len(truth.Attackers) - q.found
	var missed []netip.Addr
	for _, ip := range truth.Attackers {
		if seen[ip] == 0 {
			if a, err := netip.ParseAddr(ip); err == nil {
				missed = append(missed, a)
			}
		}
	}
	for i, a := range missed {
		if i == 5 {
			q.example("… and %d more missed", len(missed)-5)
			break
		}
		q.example("missed attacker: %s", a)
	}
	return q, nil
}

func (q *quality) example(format string, args ...any) {
	if len(q.examples) < 12 {
		q.examples = append(q.examples, fmt.Sprintf(format, args...))
	}
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func indent(s string) string {
	if s == "" {
		return "    (nothing)\n"
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
