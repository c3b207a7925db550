// Command latency measures how long `secwatch run` takes from a line being
// appended to a log file to the alert for it being written on its standard
// output, under steady background traffic (make bench-latency). For each
// poll interval it runs a fresh daemon, appends background lines and marker
// lines, and reports the latency percentiles of the markers, whether the
// daemon kept up, and its CPU time and peak RSS; bench/README.md ("Live
// latency: what it does") describes the method. It exits 1 when a marker
// is never matched or a marker alert is repeated, never because of timing.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

// markerRule is the rule id that fires on every marker line.
const markerRule = "bench-latency-marker"

// markerType is the marker lines' event_type.
const markerType = "bench_latency_marker"

type options struct {
	secwatch    string
	rules       string
	duration    time.Duration
	eps         int
	markerEvery time.Duration
	polls       []time.Duration
	drain       time.Duration
	work        string
	logDir      string
	keep        bool
	jsonOut     bool
	seed        uint64
	markersOut  string
	checkpoint  string
	rssEvery    time.Duration
	corpusOut   string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.secwatch, "secwatch", "bin/secwatch", "secwatch `binary`")
	fs.StringVar(&o.rules, "rules", "bench/rules10.yaml", "rule `file` loaded besides the marker rule (\"\" for none)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to write traffic, per poll interval")
	fs.IntVar(&o.eps, "eps", 10000, "lines per second written, markers included")
	fs.DurationVar(&o.markerEvery, "marker-every", 50*time.Millisecond, "time between marker lines")
	polls := fs.String("poll", "50ms", "file source poll_interval(s), comma-separated; one daemon run each")
	fs.DurationVar(&o.drain, "drain", 15*time.Second, "how long to wait after writing stops for the daemon to catch up")
	fs.StringVar(&o.work, "work", "", "`directory` for the log, config and state (default: a temporary one, removed)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.StringVar(&o.logDir, "log-dir", "", "`directory` for the log alone (default: the work directory). The traffic's log is written at up to 15 MB/s and never fsynced: on ext4 (data=ordered) its writeback, every 30 s, holds up the fsyncs of the state directory's outbox when both share a file system, which puts tens to hundreds of milliseconds on alerts due then. A tmpfs such as /dev/shm keeps it apart, as a log on another disk or host is in production")
	fs.BoolVar(&o.jsonOut, "json", false, "print the results as JSON instead of a table")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the background traffic")
	fs.StringVar(&o.checkpoint, "checkpoint-interval", "", "the daemon's checkpoint_interval (default: secwatch's, 10s)")
	fs.StringVar(&o.corpusOut, "corpus-out", "", "write -duration × -eps background lines stamped as if written live to `file` and exit (to replay the live traffic offline)")
	fs.IntVar(&clientIPCount, "ips", clientIPCount, "distinct client IPs of the background traffic (at 50,000 lines/s and 50,000 IPs every client crosses the 10-failures-in-5-minutes rule within minutes: an alert storm)")
	fs.DurationVar(&o.rssEvery, "rss-every", 10*time.Second, "how often to sample the daemon's resident memory (VmRSS) while writing")
	fs.StringVar(&o.markersOut, "markers", "", "write every marker's latency to `file` (TSV: poll, id, seconds since the daemon started, latency ms; -1 when unmatched)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, p := range strings.Split(*polls, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return o, fmt.Errorf("-poll: %w", err)
		}
		o.polls = append(o.polls, d)
	}
	if o.eps < 1 || o.duration <= 0 || o.markerEvery <= 0 || len(o.polls) == 0 {
		return o, errors.New("need -eps >= 1, -duration > 0, -marker-every > 0 and at least one -poll")
	}
	return o, nil
}

// result is one daemon run.
type result struct {
	PollInterval    string    `json:"poll_interval"`
	Duration        float64   `json:"duration_seconds"`
	TargetEPS       int       `json:"target_eps"`
	Lines           int64     `json:"lines_written"`
	AchievedEPS     float64   `json:"achieved_eps"`
	WriterMaxBehind float64   `json:"writer_max_behind_ms"` // the writer's own pacing lag
	Markers         int       `json:"markers"`
	Matched         int       `json:"matched"`
	Repeated        int       `json:"repeated"`
	OtherAlerts     int       `json:"other_alerts"`
	P50             float64   `json:"p50_ms"`
	P90             float64   `json:"p90_ms"`
	P99             float64   `json:"p99_ms"`
	Max             float64   `json:"max_ms"`
	Min             float64   `json:"min_ms"`
	Mean            float64   `json:"mean_ms"`
	Observed        int64     `json:"events_observed"`
	MaxBacklog      int64     `json:"max_backlog_lines"`
	CaughtUp        float64   `json:"caught_up_after_ms"` // after the last write; -1: not within -drain
	KeptUp          bool      `json:"kept_up"`
	DaemonCPU       float64   `json:"daemon_cpu_seconds"`
	DaemonCPUPct    float64   `json:"daemon_cpu_percent"` // of one core, over the traffic
	DaemonPeakRSS   float64   `json:"daemon_peak_rss_mib"`
	RSSSamples      []float64 `json:"daemon_rss_samples_mib"` // VmRSS every -rss-every while writing
	LoadStart       string    `json:"load_start"`
	LoadEnd         string    `json:"load_end"`
	latencies       []time.Duration
	missing         []string
	rows            []markerRow
}

// markerRow is one marker for -markers.
type markerRow struct {
	id      string
	since   time.Duration // from the daemon's start to the write
	latency time.Duration // -1: unmatched
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if o.corpusOut != "" {
		return writeCorpus(o)
	}
	var results []*result
	failed := false
	for _, poll := range o.polls {
		r, err := measure(ctx, o, poll, stderr)
		if err != nil {
			return fmt.Errorf("poll %s: %w", poll, err)
		}
		results = append(results, r)
		if r.Matched != r.Markers || r.Repeated > 0 {
			failed = true
		}
	}
	if o.markersOut != "" {
		if err := writeMarkers(o.markersOut, results); err != nil {
			return err
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		printTable(stdout, o, results)
	}
	if failed {
		for _, r := range results {
			if len(r.missing) > 0 {
				fmt.Fprintf(stderr, "poll %s: markers without an alert: %s\n", r.PollInterval, strings.Join(r.missing[:min(10, len(r.missing))], " "))
			}
		}
		return errors.New("not every marker produced exactly one alert")
	}
	return nil
}

func writeMarkers(name string, rs []*result) error {
	var b strings.Builder
	b.WriteString("poll\tmarker\tsince_start_s\tlatency_ms\n")
	for _, r := range rs {
		for _, m := range r.rows {
			lat := -1.0
			if m.latency >= 0 {
				lat = ms(m.latency)
			}
			fmt.Fprintf(&b, "%s\t%s\t%.3f\t%.3f\n", r.PollInterval, m.id, m.since.Seconds(), lat)
		}
	}
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

func printTable(w io.Writer, o options, rs []*result) {
	ck := o.checkpoint
	if ck == "" {
		ck = "10s (default)"
	}
	fmt.Fprintf(w, "secwatch run latency: %d lines/s for %s per run, a marker every %s on average, rules %s + the marker rule, checkpoint_interval %s; %d CPUs\n",
		o.eps, o.duration, o.markerEvery, orNone(o.rules), ck, runtime.NumCPU())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "poll\tmarkers\tmatched\tother alerts\tp50 ms\tp90 ms\tp99 ms\tmax ms\tlines/s\tobserved/written\tmax backlog\tcaught up ms\tkept up\tdaemon CPU %\tpeak RSS MiB\tload start → end\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%d/%d\t%d\t%.0f\t%v\t%.0f\t%.1f\t%s → %s\t\n",
			r.PollInterval, r.Markers, r.Matched, r.OtherAlerts, r.P50, r.P90, r.P99, r.Max, r.AchievedEPS, r.Observed, r.Lines,
			r.MaxBacklog, r.CaughtUp, r.KeptUp, r.DaemonCPUPct, r.DaemonPeakRSS, r.LoadStart, r.LoadEnd)
	}
	tw.Flush()
	for _, r := range rs {
		if len(r.RSSSamples) > 0 {
			parts := make([]string, len(r.RSSSamples))
			for i, v := range r.RSSSamples {
				parts[i] = strconv.FormatFloat(v, 'f', 1, 64)
			}
			fmt.Fprintf(w, "poll %s: daemon RSS MiB every %s while writing: %s\n", r.PollInterval, o.rssEvery, strings.Join(parts, " "))
		}
	}
	fmt.Fprintln(w, "latency: from the return of the marker's write(2) to reading its alert from secwatch's stdout pipe;")
	fmt.Fprintln(w, "max backlog: lines written but not yet observed by the engine, sampled every 100ms from /metrics;")
	fmt.Fprintln(w, "daemon CPU %: of one core, from the first traffic line until caught up; peak RSS: VmHWM of the daemon")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// daemon is a running `secwatch run`.
type daemon struct {
	cmd     *exec.Cmd
	started time.Time
	addr    string
	alerts  chan alertLine
	stderr  *bytes.Buffer
	stderrM sync.Mutex
	done    chan error // the result of Wait, put back by whoever takes it
	// stopped and stopErr belong to the goroutine that calls stop.
	stopped bool
	stopErr error
}

// alertLine is one line of the daemon's stdout and when it was read.
type alertLine struct {
	at   time.Time
	line []byte
}

// alertDoc is the part of an alert document the benchmark reads.
type alertDoc struct {
	Rule    string              `json:"rule"`
	Group   map[string]string   `json:"group"`
	Samples []map[string]string `json:"samples"`
}

func measure(ctx context.Context, o options, poll time.Duration, stderr io.Writer) (*result, error) {
	work := o.work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "secwatch-latency-"); err != nil {
			return nil, err
		}
		if !o.keep {
			defer os.RemoveAll(work)
		}
	} else {
		work = filepath.Join(work, "poll-"+poll.String())
		if err := os.RemoveAll(work); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(work, "app.log")
	if o.logDir != "" {
		if err := os.MkdirAll(o.logDir, 0o755); err != nil {
			return nil, err
		}
		logPath = filepath.Join(o.logDir, "secwatch-latency-"+poll.String()+".log")
		defer os.Remove(logPath)
	}
	cfgPath, err := writeConfig(work, logPath, o.rules, poll, o.checkpoint)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	d, err := startDaemon(ctx, o.secwatch, cfgPath)
	if err != nil {
		return nil, err
	}
	defer d.stop()

	r := &result{PollInterval: poll.String(), TargetEPS: o.eps, LoadStart: loadAverage()}
	var written atomic.Int64

	// Warm up: a marker every 100ms until one comes back, so that the
	// measurement starts with the pipeline known to be live.
	warm := map[string]bool{}
	warmDeadline := time.Now().Add(15 * time.Second)
	for n := 0; ; n++ {
		id := fmt.Sprintf("warm-%03d", n)
		warm[id] = true
		if _, err := logf.Write(markerLine(nil, id, time.Now())); err != nil {
			return nil, err
		}
		written.Add(1)
		got, err := d.waitAlert(warmDeadline, 100*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w\n%s", err, d.stderrTail())
		}
		if got {
			break
		}
	}

	// Sample the engine's progress from /metrics while writing.
	var maxBacklog atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	var rssMu sync.Mutex
	var rssSamples []float64
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		nextRSS := time.Now().Add(o.rssEvery)
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			if now := time.Now(); o.rssEvery > 0 && !now.Before(nextRSS) {
				nextRSS = nextRSS.Add(o.rssEvery)
				rssMu.Lock()
				rssSamples = append(rssSamples, procRSS(d.cmd.Process.Pid))
				rssMu.Unlock()
			}
			w := written.Load()
			obs, err := d.observed()
			if err != nil {
				continue
			}
			if b := w - obs; b > maxBacklog.Load() {
				maxBacklog.Store(b)
			}
		}
	}()

	// Match alerts to markers as they are read.
	sent := map[string]time.Time{} // marker id → write returned
	var seenMu sync.Mutex
	seen := map[string]time.Time{} // marker id → its alert read
	repeated, other := 0, 0
	readDone := make(chan struct{})
	stopReading := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			select {
			case <-stopReading:
				return
			case a, ok := <-d.alerts:
				if !ok {
					return
				}
				var doc alertDoc
				if err := json.Unmarshal(a.line, &doc); err != nil || doc.Rule != markerRule {
					other++
					continue
				}
				id := markerID(&doc)
				if warm[id] {
					continue
				}
				seenMu.Lock()
				if _, dup := seen[id]; dup {
					repeated++
				} else {
					seen[id] = a.at
				}
				seenMu.Unlock()
			}
		}
	}()

	cpu0, _ := procCPU(d.cmd.Process.Pid)
	start := time.Now()
	gen := newTraffic(newRand(o.seed))
	var buf []byte
	var behind time.Duration
	var lines int64
	// Markers come at random intervals averaging -marker-every, so that
	// they fall at every phase of the poll interval (a fixed period equal
	// to it would put every marker at the same distance from the next poll).
	mrng := rand.New(rand.NewPCG(o.seed, 0x1a7))
	nextMarker := start.Add(jitter(mrng, o.markerEvery))
	markers := 0
	end := start.Add(o.duration)
	for {
		now := time.Now()
		if now.After(end) {
			break
		}
		if now.Before(nextMarker) {
			due := int64(now.Sub(start).Seconds() * float64(o.eps))
			buf = buf[:0]
			for lines < due {
				buf = gen.line(buf, now)
				lines++
			}
			if len(buf) > 0 {
				if _, err := logf.Write(buf); err != nil {
					return nil, err
				}
				written.Store(lines + int64(len(warm)))
			}
		} else {
			if late := now.Sub(nextMarker); late > behind {
				behind = late
			}
			markers++
			id := fmt.Sprintf("lat-%06d", markers)
			line := markerLine(buf[:0], id, now)
			if _, err := logf.Write(line); err != nil {
				return nil, err
			}
			sent[id] = time.Now()
			lines++
			written.Store(lines + int64(len(warm)))
			nextMarker = nextMarker.Add(jitter(mrng, o.markerEvery))
			continue
		}
		sleep := time.Millisecond
		if u := nextMarker.Sub(now); u < sleep {
			sleep = u
		}
		time.Sleep(sleep)
	}
	stopWrite := time.Now()
	r.Duration = stopWrite.Sub(start).Seconds()
	r.Lines = written.Load()
	r.AchievedEPS = float64(lines) / r.Duration
	r.WriterMaxBehind = ms(behind)
	r.Markers = markers

	// Wait for the engine to observe every line and every marker's alert.
	deadline := stopWrite.Add(o.drain)
	r.CaughtUp = -1
	for time.Now().Before(deadline) {
		obs, err := d.observed()
		if err == nil {
			r.Observed = obs
			if obs >= r.Lines && r.CaughtUp < 0 {
				r.CaughtUp = ms(time.Since(stopWrite))
			}
		}
		seenMu.Lock()
		all := len(seen) >= markers
		seenMu.Unlock()
		if r.CaughtUp >= 0 && all {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cpu1, _ := procCPU(d.cmd.Process.Pid)
	elapsed := time.Since(start).Seconds()
	close(stopSampling)
	<-sampled
	// A short grace for repeated alerts to show up.
	time.Sleep(200 * time.Millisecond)
	close(stopReading)
	<-readDone
	r.Repeated = repeated
	r.OtherAlerts = other
	r.MaxBacklog = maxBacklog.Load()
	r.DaemonCPU = cpu1 - cpu0
	r.DaemonCPUPct = 100 * r.DaemonCPU / elapsed
	r.DaemonPeakRSS = procPeakRSS(d.cmd.Process.Pid)
	rssMu.Lock()
	r.RSSSamples = append([]float64(nil), rssSamples...)
	rssMu.Unlock()
	r.LoadEnd = loadAverage()

	for id, t := range sent {
		at, ok := seen[id]
		if !ok {
			r.missing = append(r.missing, id)
			r.rows = append(r.rows, markerRow{id, t.Sub(d.started), -1})
			continue
		}
		r.latencies = append(r.latencies, at.Sub(t))
		r.rows = append(r.rows, markerRow{id, t.Sub(d.started), at.Sub(t)})
	}
	slices.SortFunc(r.rows, func(a, b markerRow) int { return strings.Compare(a.id, b.id) })
	slices.Sort(r.missing)
	r.Matched = len(r.latencies)
	summarize(r)
	// Kept up: every line observed within the drain time, and never more
	// than one poll interval plus one second of traffic behind.
	r.KeptUp = r.CaughtUp >= 0 && float64(r.MaxBacklog) <= float64(o.eps)*(poll.Seconds()+1)
	if err := d.stop(); err != nil {
		fmt.Fprintf(stderr, "poll %s: secwatch run: %v\n%s", poll, err, d.stderrTail())
	}
	return r, nil
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5ec)) }

// jitter is uniform in [every/2, 3·every/2).
func jitter(r *rand.Rand, every time.Duration) time.Duration {
	return every/2 + time.Duration(r.Int64N(int64(every)))
}

// markerID is the marker id an alert names: the id in its last sample (the
// event that made it fire), else its group.
func markerID(doc *alertDoc) string {
	if n := len(doc.Samples); n > 0 {
		if id := doc.Samples[n-1]["details.marker"]; id != "" {
			return id
		}
	}
	return doc.Group["details.marker"]
}

func summarize(r *result) {
	l := r.latencies
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	r.P50 = ms(percentile(l, 50))
	r.P90 = ms(percentile(l, 90))
	r.P99 = ms(percentile(l, 99))
	r.Max = ms(l[len(l)-1])
	r.Min = ms(l[0])
	r.Mean = ms(sum / time.Duration(len(l)))
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeConfig writes the marker rule and the daemon's configuration.
func writeConfig(work, logPath, rules string, poll time.Duration, checkpoint string) (string, error) {
	marker := filepath.Join(work, "marker.yaml")
	if err := os.WriteFile(marker, []byte(`rules:
  - id: `+markerRule+`
    title: Latency benchmark marker
    severity: info
    description: Fires once for every marker line the latency benchmark writes.
    match:
      event_type: `+markerType+`
    group_by: [details.marker]
    window: 1s
    threshold: 0
    cooldown: 0s
`), 0o644); err != nil {
		return "", err
	}
	rulePaths := []string{marker}
	if rules != "" {
		abs, err := filepath.Abs(rules)
		if err != nil {
			return "", err
		}
		rulePaths = append(rulePaths, abs)
	}
	q := func(s string) string { return strconv.Quote(s) }
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\n", q(filepath.Join(work, "state")))
	if checkpoint != "" {
		fmt.Fprintf(&b, "checkpoint_interval: %s\n", q(checkpoint))
	}
	b.WriteString("rules:\n")
	for _, p := range rulePaths {
		fmt.Fprintf(&b, "  - %s\n", q(p))
	}
	fmt.Fprintf(&b, `sources:
  - name: bench
    type: file
    format: json
    paths: [%s]
    start: beginning
    poll_interval: %s
alerts:
  stdout:
    enabled: true
    format: json
http:
  listen: 127.0.0.1:0
log:
  level: info
  format: json
`, q(logPath), poll)
	cfg := filepath.Join(work, "secwatch.yaml")
	return cfg, os.WriteFile(cfg, []byte(b.String()), 0o644)
}

func startDaemon(ctx context.Context, bin, cfg string) (*daemon, error) {
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfg)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, started: started, alerts: make(chan alertLine, 1<<16), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			d.stderrM.Lock()
			d.stderr.Write(sc.Bytes())
			d.stderr.WriteByte('\n')
			d.stderrM.Unlock()
			var l struct {
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Addr != "" {
				select {
				case addr <- l.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, errPipe)
	}()
	go func() {
		defer pipes.Done()
		defer close(d.alerts)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 256*1024), 16<<20)
		for sc.Scan() {
			at := time.Now()
			d.alerts <- alertLine{at: at, line: bytes.Clone(sc.Bytes())}
		}
		io.Copy(io.Discard, out)
	}()
	go func() {
		pipes.Wait() // Wait must not close the pipes before they are read
		d.done <- cmd.Wait()
	}()
	select {
	case d.addr = <-addr:
		return d, nil
	case err := <-d.done:
		d.done <- err
		return nil, fmt.Errorf("secwatch run exited before serving /metrics (%v):\n%s", err, d.stderrTail())
	case <-time.After(15 * time.Second):
		d.stop()
		return nil, fmt.Errorf("secwatch run did not log its /metrics address within 15s:\n%s", d.stderrTail())
	}
}

// waitAlert waits up to wait (and never past deadline) for a marker alert;
// it reports whether one came.
func (d *daemon) waitAlert(deadline time.Time, wait time.Duration) (bool, error) {
	t := time.NewTimer(min(wait, time.Until(deadline)))
	defer t.Stop()
	for {
		select {
		case a, ok := <-d.alerts:
			if !ok {
				return false, errors.New("secwatch run closed its stdout")
			}
			var doc alertDoc
			if json.Unmarshal(a.line, &doc) == nil && doc.Rule == markerRule {
				return true, nil
			}
		case <-t.C:
			if time.Now().After(deadline) {
				return false, errors.New("no marker alert within 15s")
			}
			return false, nil
		}
	}
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// observed is secwatch_engine_events_total.
func (d *daemon) observed() (int64, error) {
	resp, err := metricsClient.Get("http://" + d.addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "secwatch_engine_events_total "); ok {
			// The exposition writes large counts as floats (9.0e+06).
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no secwatch_engine_events_total in /metrics")
}

// stop sends SIGTERM and waits (SIGKILL after 30s). It is safe to call
// more than once.
func (d *daemon) stop() error {
	if d.stopped {
		return d.stopErr
	}
	d.stopped = true
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		d.stopErr = err
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		err := <-d.done
		d.done <- err
		d.stopErr = fmt.Errorf("did not stop within 30s of SIGTERM; killed")
	}
	return d.stopErr
}

func (d *daemon) stderrTail() string {
	d.stderrM.Lock()
	defer d.stderrM.Unlock()
	lines := strings.Split(strings.TrimRight(d.stderr.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n") + "\n"
}

// procCPU is a process's user+system CPU time in seconds (Linux).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may
	// contain spaces: state is field 3, utime 14, stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat")
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ, 100 on every Linux architecture Go supports
	return (u + st) / clkTck, nil
}

// procPeakRSS is a process's VmHWM in MiB (Linux), 0 when unknown.
func procPeakRSS(pid int) float64 { return procStatusMiB(pid, "VmHWM:") }

// procRSS is a process's VmRSS in MiB (Linux), 0 when unknown.
func procRSS(pid int) float64 { return procStatusMiB(pid, "VmRSS:") }

func procStatusMiB(pid int, key string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			kib, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kib / 1024
		}
	}
	return 0
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// writeCorpus writes the background traffic of a run to a file, with the
// times a live run would stamp (evenly spaced at -eps from a fixed start).
func writeCorpus(o options) error {
	f, err := os.Create(o.corpusOut)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	tr := newTraffic(newRand(o.seed))
	start := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	n := int64(o.duration.Seconds() * float64(o.eps))
	var b []byte
	for i := int64(0); i < n; i++ {
		b = tr.line(b[:0], start.Add(time.Duration(i)*time.Second/time.Duration(o.eps))) // ends in a newline
		if _, err := w.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
