package daemon

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/ingest"
)

// Restart backoff for a failing source.
const (
	sourceMinBackoff = time.Second
	sourceMaxBackoff = time.Minute
)

// supervise runs src until ctx ends, restarting it with capped exponential
// backoff and jitter whenever it fails, so that one broken source never
// stops the others. In once mode a source that returns nil is done; one
// that fails is tried again until it succeeds or ctx ends.
func supervise(ctx context.Context, src ingest.Source, out chan<- ingest.Record, once bool, sm *sourceMetrics, log zerolog.Logger) {
	backoff := sourceMinBackoff
	lastErr := ""
	for {
		sm.up.Store(true)
		err := src.Run(ctx, out)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if once {
				return
			}
			// A live source that ends (stdin at EOF) is done too.
			log.Info().Msg("source finished")
			return
		}
		sm.up.Store(false)
		sm.restarts.Add(1)
		if msg := err.Error(); msg != lastErr {
			// A repeating failure is logged when it changes.
			log.Error().Err(err).Dur("retry_in", backoff).Msg("source failed")
			lastErr = msg
		}
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, sourceMaxBackoff)
	}
}
