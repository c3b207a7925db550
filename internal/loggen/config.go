package loggen

import (
	"fmt"
	"math"
	"time"
)

// Formats lists the valid Config.Format values.
var Formats = []string{"json", "mcp-text", "mcp-cloudwatch", "alb"}

// Config describes one generated log. Every field's zero value means the
// documented default, so Config{} is valid.
type Config struct {
	// Format is one of Formats. Default "json".
	Format string
	// Seed selects the world; the same Config gives the same bytes.
	Seed int64
	// Start is the time of the first event. Default 2026-01-28T19:00:00Z.
	Start time.Time
	// Duration is the span the events cover. Default 24h.
	Duration time.Duration
	// Events is the number of logical events: one per json line, one per
	// request in alb (a rate-limit event shares its request with an
	// unknown-tool attempt and writes no alb line of its own), several
	// lines each in the mcp formats. Default 10,000.
	Events int
	// ClientIPs is the number of distinct client addresses. Default
	// Events/20, at least 20. Up to 700 addresses come from the RFC 5737
	// documentation ranges; larger populations are random public IPv4.
	ClientIPs int
	// AttackerFraction is the share of client IPs that make one burst of
	// more than 10 authentication failures within 5 minutes. Default 0.05;
	// negative means none.
	AttackerFraction float64
	// NearMisses is the number of client IPs (slots in the mcp formats) with
	// exactly 10 failures within 5 minutes. Default ClientIPs/200, at least
	// 1; negative means none.
	NearMisses int
	// LateFraction is the share of events written out of order, between 1s
	// and MaxLate after their timestamp. Default 0.002; negative means none.
	LateFraction float64
	// MaxLate bounds how late an out-of-order event is written. Default 5s,
	// at most 1 minute.
	MaxLate time.Duration
}

// DefaultStart is the Start used when Config.Start is zero: the day the
// real server's security code first shipped.
var DefaultStart = time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)

// withDefaults returns cfg with defaults applied, or an error naming the
// first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Format == "" {
		cfg.Format = "json"
	}
	known := false
	for _, f := range Formats {
		known = known || f == cfg.Format
	}
	if !known {
		return cfg, fmt.Errorf("format: must be one of %v, got %q", Formats, cfg.Format)
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	// Event times are kept in microseconds.
	cfg.Start = cfg.Start.UTC().Truncate(time.Microsecond)
	if cfg.Duration == 0 {
		cfg.Duration = 24 * time.Hour
	}
	if cfg.Duration < 30*time.Minute {
		return cfg, fmt.Errorf("duration: must be at least 30m, got %s", cfg.Duration)
	}
	if cfg.Events == 0 {
		cfg.Events = 10000
	}
	if cfg.Events < 0 {
		return cfg, fmt.Errorf("events: must be positive, got %d", cfg.Events)
	}
	if cfg.ClientIPs == 0 {
		cfg.ClientIPs = max(cfg.Events/20, 20)
	}
	if cfg.ClientIPs < 1 || cfg.ClientIPs > 1<<24 {
		return cfg, fmt.Errorf("ips: must be between 1 and %d, got %d", 1<<24, cfg.ClientIPs)
	}
	if math.IsNaN(cfg.AttackerFraction) || cfg.AttackerFraction > 0.5 {
		return cfg, fmt.Errorf("attacker fraction: must be at most 0.5, got %v", cfg.AttackerFraction)
	}
	if cfg.AttackerFraction == 0 {
		cfg.AttackerFraction = 0.05
	}
	if cfg.NearMisses == 0 {
		cfg.NearMisses = max(cfg.ClientIPs/200, 1)
	}
	if math.IsNaN(cfg.LateFraction) || cfg.LateFraction > 0.1 {
		return cfg, fmt.Errorf("late fraction: must be at most 0.1, got %v", cfg.LateFraction)
	}
	if cfg.LateFraction == 0 {
		cfg.LateFraction = 0.002
	}
	if cfg.MaxLate == 0 {
		cfg.MaxLate = 5 * time.Second
	}
	if cfg.MaxLate < time.Second || cfg.MaxLate > time.Minute {
		return cfg, fmt.Errorf("max late: must be between 1s and 1m, got %s", cfg.MaxLate)
	}
	return cfg, nil
}

// attackers is the number of attacker IPs (bursts in the mcp formats).
func (cfg Config) attackers() int {
	if cfg.AttackerFraction < 0 {
		return 0
	}
	return int(math.Round(cfg.AttackerFraction * float64(cfg.ClientIPs)))
}

func (cfg Config) nearMisses() int { return max(cfg.NearMisses, 0) }

// perIP reports whether the format carries the true client IP, so that the
// truth is per client; the mcp formats count over the whole log.
func (cfg Config) perIP() bool { return cfg.Format == "json" || cfg.Format == "alb" }
