package loggen

import "time"

// HeadlineRule describes the rule a Truth's Attackers and NearMisses are
// exact for.
const HeadlineRule = "more than 10 authentication failures within 5m (window (T-5m, T]), " +
	"one failure counted once; per client IP for json and alb, over the whole log for the mcp formats; " +
	"any cooldown from 5m to 15m gives exactly one alert per attacker"

// Truth is what a correct monitor finds in a generated log.
type Truth struct {
	Format string `json:"format"`
	// Config is the configuration the log was generated with, defaults
	// applied, so that it can be regenerated.
	Config TruthConfig `json:"config"`
	Rule   string      `json:"rule"`
	// Events is the number of logical events (Config.Events) and Lines the
	// number of lines written.
	Events int `json:"events"`
	Lines  int `json:"lines"`

	// Attackers must alert under the headline rule: client IPs for json
	// and alb, sorted by address; for the mcp formats, burst windows as
	// "first/last" RFC 3339 intervals, in time order.
	Attackers []string `json:"attackers"`
	// NearMisses have exactly 10 failures in their worst 5-minute window
	// and must not alert. Same form as Attackers.
	NearMisses []string `json:"near_misses"`
	// AttackBursts and NearMissBursts detail each cluster of failures.
	AttackBursts   []Burst `json:"attack_bursts"`
	NearMissBursts []Burst `json:"near_miss_bursts"`

	// Probers (json and alb) send unauthenticated requests to 25-40
	// distinct paths, 31-90 seconds apart: more than 20 distinct paths with
	// 401 within an hour, never more than 10 failures within 5 minutes.
	Probers []string `json:"probers,omitempty"`
	// Plaintext (alb) are the clients that sent plain-HTTP requests (all
	// redirected with 301); LegacyTLS (alb) are the clients that
	// negotiated TLSv1 or TLSv1.1.
	Plaintext []string `json:"plaintext,omitempty"`
	LegacyTLS []string `json:"legacy_tls,omitempty"`
	// BadOrigins are the origins of the CORS violations.
	BadOrigins []string `json:"bad_origins"`

	// Late is the number of logical events written out of order.
	Late int `json:"late"`
	// Counts is the number of logical events of each event_type
	// ("request" for successful calls; "health_check" for the ALB's health
	// checks in mcp-text, which are not part of Events).
	Counts map[string]int `json:"counts"`
}

// TruthConfig records a Config with defaults applied.
type TruthConfig struct {
	Seed             int64     `json:"seed"`
	Start            time.Time `json:"start"`
	Duration         string    `json:"duration"`
	Events           int       `json:"events"`
	ClientIPs        int       `json:"ips"`
	AttackerFraction float64   `json:"attacker_fraction"`
	NearMisses       int       `json:"near_misses"`
	LateFraction     float64   `json:"late_fraction"`
	MaxLate          string    `json:"max_late"`
}

// Burst is one cluster of authentication failures of one key.
type Burst struct {
	// Key is the client IP (json, alb); empty for the mcp formats.
	Key   string    `json:"key,omitempty"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Count is the number of failures in the cluster, and MaxInWindow the
	// most of them inside any half-open 5-minute window: Count for attack
	// bursts, 10 for near misses (whose Count is 11 when the 11th falls
	// exactly 5 minutes after the first).
	Count       int `json:"count"`
	MaxInWindow int `json:"max_in_window"`
}
