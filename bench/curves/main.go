// Command curves measures secwatch replay's scale curves for make
// bench-plots and writes them as TSV files for bench/curves/plots.gp:
// events.tsv (10k to 10M events), rules.tsv (1 to 1,000 rules) and
// keys.tsv (1k to 1M distinct client IPs, with and without max_keys).
// Inputs are generated into a pipe by a separate process, so every figure
// is the measured process's own CPU time and peak RSS; bench/README.md
// ("Targets, peers, scale curves, soak") describes the method.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "curves:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, out, rules10 string
	events, rules     []int
	keys              []int
	rounds            int
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("curves", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "bin", "`directory` holding secwatch, secwatch-loggen and decodeloop")
	fs.StringVar(&o.out, "out", "bench/out/curves", "`directory` for the TSV files and generated rule files")
	fs.StringVar(&o.rules10, "rules10", "bench/rules10.yaml", "the ten rules")
	events := fs.String("events", "10000,100000,1000000,10000000", "event counts")
	rules := fs.String("rules", "1,10,100,1000", "rule counts")
	keys := fs.String("keys", "1000,10000,100000,1000000", "distinct key counts")
	fs.IntVar(&o.rounds, "rounds", 1, "measurements per point (the median is kept)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.events, err = ints(*events); err != nil {
		return err
	}
	if o.rules, err = ints(*rules); err != nil {
		return err
	}
	if o.keys, err = ints(*keys); err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	// An empty list skips its curve and leaves its TSV file as it was
	// (to re-measure one curve: -events "" -keys "").
	if len(o.events) > 0 {
		if err := eventsCurve(o); err != nil {
			return err
		}
	}
	if len(o.rules) > 0 {
		if err := rulesCurve(o); err != nil {
			return err
		}
	}
	if len(o.keys) > 0 {
		return keysCurve(o)
	}
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// usage is one measured process.
type usage struct {
	wall, cpu float64 // seconds
	rssMiB    float64
}

// measure runs cmd with its standard input fed by gen (a command, run as a
// separate process into a pipe) and returns cmd's own usage.
func measure(gen []string, cmd []string, stdout io.Writer) (usage, error) {
	g := exec.Command(gen[0], gen[1:]...)
	c := exec.Command(cmd[0], cmd[1:]...)
	pr, pw, err := os.Pipe()
	if err != nil {
		return usage{}, err
	}
	g.Stdout = pw
	g.Stderr = os.Stderr
	c.Stdin = pr
	c.Stdout = stdout
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := g.Start(); err != nil {
		return usage{}, err
	}
	pw.Close()
	start := time.Now()
	if err := c.Start(); err != nil {
		pr.Close()
		g.Process.Kill()
		g.Wait()
		return usage{}, err
	}
	pr.Close()
	cerr := c.Wait()
	wall := time.Since(start)
	gerr := g.Wait()
	if cerr != nil {
		return usage{}, fmt.Errorf("%s: %v\n%s", strings.Join(cmd, " "), cerr, tail(stderr.String()))
	}
	if gerr != nil {
		return usage{}, fmt.Errorf("%s: %v", strings.Join(gen, " "), gerr)
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	return usage{
		wall:   wall.Seconds(),
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(),
		rssMiB: float64(ru.Maxrss) / 1024,
	}, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

// best runs measure rounds times and keeps the median CPU time's run.
func best(rounds int, gen, cmd []string) (usage, error) {
	var us []usage
	for i := 0; i < max(rounds, 1); i++ {
		u, err := measure(gen, cmd, io.Discard)
		if err != nil {
			return u, err
		}
		us = append(us, u)
	}
	for i := range us { // insertion sort by CPU time
		for j := i; j > 0 && us[j].cpu < us[j-1].cpu; j-- {
			us[j], us[j-1] = us[j-1], us[j]
		}
	}
	return us[len(us)/2], nil
}

func (o options) loggen(events int) []string {
	return []string{filepath.Join(o.bin, "secwatch-loggen"), "-format", "json", "-seed", "1", "-events", strconv.Itoa(events)}
}

func (o options) replay(rules string, extra ...string) []string {
	args := []string{filepath.Join(o.bin, "secwatch"), "replay", "--rules", rules, "--format", "json", "--output", "json"}
	return append(append(args, extra...), "-")
}

func (o options) decode() []string {
	return []string{filepath.Join(o.bin, "decodeloop"), "/dev/stdin"}
}

type table struct {
	f *os.File
	w *bufio.Writer
}

func newTable(path, header string) (*table, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	t := &table{f: f, w: bufio.NewWriter(f)}
	fmt.Fprintln(t.w, header)
	return t, nil
}

func (t *table) row(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
	fmt.Printf(format+"\n", args...)
	t.w.Flush()
}

func (t *table) close() error {
	if err := t.w.Flush(); err != nil {
		t.f.Close()
		return err
	}
	return t.f.Close()
}

const pointHeader = "# x\tsecwatch_cpu_s\tdecode_cpu_s\tratio_cpu\tsecwatch_rss_mib\tdecode_rss_mib\tsecwatch_wall_s\tlines_per_cpu_s"

func eventsCurve(o options) error {
	t, err := newTable(filepath.Join(o.out, "events.tsv"), "# events, 10 rules\n"+pointHeader)
	if err != nil {
		return err
	}
	for _, n := range o.events {
		gen := o.loggen(n)
		d, err := best(o.rounds, gen, o.decode())
		if err != nil {
			return err
		}
		s, err := best(o.rounds, gen, o.replay(o.rules10))
		if err != nil {
			return err
		}
		t.row("%d\t%.3f\t%.3f\t%.2f\t%.1f\t%.1f\t%.3f\t%.0f", n, s.cpu, d.cpu, d.cpu/s.cpu, s.rssMiB, d.rssMiB, s.wall, float64(n)/s.cpu)
	}
	return t.close()
}

// ruleFile writes n rules: the first n of the ten (n <= 10), or the ten
// and n−10 more that match nothing in the corpus, as a large rule pack
// covering other event kinds would. kind "type": each extra rule selects
// an event_type that never occurs (like all ten bench rules, it is indexed
// by its literal: the engine skips it without evaluating it); kind
// "prefix": each tests a path prefix that never occurs (no literal to
// index: evaluated on every event, the worst case). Copies of the ten
// instead would multiply the alerts, and the curve would measure alert
// rendering (docs/benchmarks.md has that figure too).
func ruleFile(o options, n int, kind string) (string, error) {
	src, err := os.ReadFile(o.rules10)
	if err != nil {
		return "", err
	}
	var blocks []string // one rule each, "  - id: …" onwards
	var cur []string
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "  - id: ") {
			if cur != nil {
				blocks = append(blocks, strings.Join(cur, "\n"))
			}
			cur = []string{l}
		} else if cur != nil {
			cur = append(cur, l)
		}
	}
	if cur != nil {
		blocks = append(blocks, strings.Join(cur, "\n"))
	}
	if len(blocks) == 0 {
		return "", errors.New(o.rules10 + ": no rules found")
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		if i < len(blocks) {
			b.WriteString(strings.TrimRight(blocks[i], "\n") + "\n\n")
			continue
		}
		if kind == "type" {
			fmt.Fprintf(&b, "  - id: extra-type-%d\n    severity: low\n    match:\n      event_type: never_seen_%d\n"+
				"    group_by: [client_ip]\n    window: 5m\n    threshold: 10\n    cooldown: 15m\n\n", i, i)
		} else {
			fmt.Fprintf(&b, "  - id: extra-path-%d\n    severity: low\n    match:\n      details.path: {prefix: /never-seen-%d}\n"+
				"    group_by: [client_ip]\n    window: 5m\n    threshold: 10\n    cooldown: 15m\n\n", i, i)
		}
	}
	path := filepath.Join(o.out, fmt.Sprintf("rules-%s-%d.yaml", kind, n))
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

func rulesCurve(o options) error {
	t, err := newTable(filepath.Join(o.out, "rules.tsv"), "# rules, 1,000,000 events; extra rules selected by event_type (indexed) or by a path prefix (evaluated on every event)\n"+
		"# rules\tdecode_cpu_s\ttype_cpu_s\ttype_ratio_cpu\ttype_rss_mib\tprefix_cpu_s\tprefix_ratio_cpu\tprefix_rss_mib")
	if err != nil {
		return err
	}
	gen := o.loggen(1000000)
	d, err := best(o.rounds, gen, o.decode())
	if err != nil {
		return err
	}
	for _, n := range o.rules {
		var us [2]usage
		for k, kind := range []string{"type", "prefix"} {
			if n <= 10 && k == 1 {
				us[1] = us[0] // no extra rules: the same file
				continue
			}
			path, err := ruleFile(o, n, kind)
			if err != nil {
				return err
			}
			if us[k], err = best(o.rounds, gen, o.replay(path)); err != nil {
				return err
			}
		}
		t.row("%d\t%.3f\t%.3f\t%.2f\t%.1f\t%.3f\t%.2f\t%.1f", n, d.cpu,
			us[0].cpu, d.cpu/us[0].cpu, us[0].rssMiB, us[1].cpu, d.cpu/us[1].cpu, us[1].rssMiB)
	}
	return t.close()
}

func keysCurve(o options) error {
	t, err := newTable(filepath.Join(o.out, "keys.tsv"),
		"# distinct client IPs, each failing twice within 4 minutes; 10 rules\n# keys\tlines\trss_mib_capped_100k\trss_mib_uncapped\tcpu_s_capped\tcpu_s_uncapped")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, k := range o.keys {
		gen := []string{self, "-gen-keys", strconv.Itoa(k)}
		c, err := best(o.rounds, gen, o.replay(o.rules10))
		if err != nil {
			return err
		}
		u, err := best(o.rounds, gen, o.replay(o.rules10, "--max-keys", "100000000"))
		if err != nil {
			return err
		}
		t.row("%d\t%d\t%.1f\t%.1f\t%.3f\t%.3f", k, 2*k, c.rssMiB, u.rssMiB, c.cpu, u.cpu)
	}
	return t.close()
}
