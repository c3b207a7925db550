package loggen

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"
)

// Generate writes the log cfg describes to w and returns its truth. The
// output depends only on cfg: the same Config gives the same bytes.
func Generate(w io.Writer, cfg Config) (Truth, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Truth{}, err
	}
	wd, err := plan(cfg)
	if err != nil {
		return Truth{}, err
	}
	out := bufio.NewWriterSize(w, 256<<10)
	switch cfg.Format {
	case "json":
		err = renderJSON(out, wd)
	case "alb":
		err = renderALB(out, wd)
	case "mcp-text":
		s := &consoleSink{out: out}
		err = renderMCP(s, wd)
		wd.lines = s.lines
	case "mcp-cloudwatch":
		s := &cloudWatchSink{consoleSink: consoleSink{out: out}}
		err = renderMCP(s, wd)
		wd.lines = s.lines
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return Truth{}, fmt.Errorf("write %s log: %w", cfg.Format, err)
	}
	return wd.truth(), nil
}

func (w *world) truth() Truth {
	cfg := w.cfg
	t := Truth{
		Format: cfg.Format,
		Config: TruthConfig{
			Seed: cfg.Seed, Start: cfg.Start, Duration: cfg.Duration.String(), Events: cfg.Events,
			ClientIPs: cfg.ClientIPs, AttackerFraction: cfg.AttackerFraction, NearMisses: cfg.NearMisses,
			LateFraction: cfg.LateFraction, MaxLate: cfg.MaxLate.String(),
		},
		Rule:           HeadlineRule,
		Events:         cfg.Events,
		Lines:          w.lines,
		Attackers:      []string{},
		NearMisses:     []string{},
		AttackBursts:   []Burst{},
		NearMissBursts: []Burst{},
		BadOrigins:     badOrigins,
		Late:           w.late,
		Counts:         make(map[string]int),
	}
	for i := range w.events {
		t.Counts[kindNames[w.events[i].kind]]++
	}
	clusters := slices.Clone(w.clusters)
	if cfg.perIP() {
		slices.SortFunc(clusters, func(a, b cluster) int { return w.addrs[a.client].Compare(w.addrs[b.client]) })
	} else {
		slices.SortFunc(clusters, func(a, b cluster) int { return cmp.Compare(a.times[0], b.times[0]) })
	}
	for _, c := range clusters {
		b := Burst{First: utc(c.times[0]), Last: utc(c.times[len(c.times)-1]), Count: len(c.times), MaxInWindow: c.maxInWindow}
		name := b.First.Format("2006-01-02T15:04:05.000000Z") + "/" + b.Last.Format("2006-01-02T15:04:05.000000Z")
		if cfg.perIP() {
			b.Key = w.ips[c.client]
			name = b.Key
		}
		if c.nearMiss {
			t.NearMisses = append(t.NearMisses, name)
			t.NearMissBursts = append(t.NearMissBursts, b)
		} else {
			t.Attackers = append(t.Attackers, name)
			t.AttackBursts = append(t.AttackBursts, b)
		}
	}
	if cfg.perIP() {
		t.Probers = w.withRole(roleProber)
	}
	if cfg.Format == "alb" {
		t.Plaintext = w.withRole(rolePlaintext)
		t.LegacyTLS = w.withRole(roleLegacyTLS)
	}
	return t
}

// withRole lists the addresses of the clients with role r, sorted.
func (w *world) withRole(r role) []string {
	var as []netip.Addr
	for i, x := range w.roles {
		if x == r {
			as = append(as, w.addrs[i])
		}
	}
	slices.SortFunc(as, netip.Addr.Compare)
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// WriteTruth writes t as indented JSON, the form of the *.truth.json files.
func WriteTruth(w io.Writer, t Truth) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ConfigUsed returns the Config the truth was generated with.
func (t Truth) ConfigUsed() (Config, error) {
	d, err := time.ParseDuration(t.Config.Duration)
	if err != nil {
		return Config{}, fmt.Errorf("truth config: duration: %w", err)
	}
	late, err := time.ParseDuration(t.Config.MaxLate)
	if err != nil {
		return Config{}, fmt.Errorf("truth config: max_late: %w", err)
	}
	return Config{
		Format: t.Format, Seed: t.Config.Seed, Start: t.Config.Start, Duration: d, Events: t.Config.Events,
		ClientIPs: t.Config.ClientIPs, AttackerFraction: t.Config.AttackerFraction, NearMisses: t.Config.NearMisses,
		LateFraction: t.Config.LateFraction, MaxLate: late,
	}, nil
}
