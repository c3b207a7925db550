package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/loggen"
)

// parserFormat maps a generator format to the secwatch format that reads it.
var parserFormat = map[string]string{"json": "json", "mcp-text": "mcp", "mcp-cloudwatch": "mcp", "alb": "alb"}

// follow appends generated traffic to path forever (until ctx ends), as a
// live server would: each line is written when the clock reaches its
// timestamp, with the generated time running speed times faster than the
// wall clock so that attacks show up within seconds. Each chunk continues
// where the previous one ended, so event time never goes back.
func follow(ctx context.Context, path string, cfg loggen.Config, speed float64) error {
	if speed <= 0 {
		return usageError{fmt.Errorf("-speed must be positive, got %v", speed)}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	parser, err := format.NewParser(parserFormat[cfg.Format], format.Options{})
	if err != nil {
		return err
	}
	wallStart := time.Now()
	cfg.Start = wallStart.UTC().Truncate(time.Millisecond)
	genStart := cfg.Start
	for seed := cfg.Seed; ; seed++ {
		cfg.Seed = seed
		var buf bytes.Buffer
		if _, err := loggen.Generate(&buf, cfg); err != nil {
			return err
		}
		sc := bufio.NewScanner(&buf)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev event.Event
		for sc.Scan() {
			line := sc.Bytes()
			ev.Reset()
			if err := parser.Parse(line, &ev); err == nil && !ev.Time.IsZero() {
				due := wallStart.Add(time.Duration(float64(ev.Time.Sub(genStart)) / speed))
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(d):
					}
				}
			}
			if _, err := f.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		cfg.Start = cfg.Start.Add(cfg.Duration)
	}
}
