package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
)

func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("run", "",
		"Run the daemon: tail the configured sources, evaluate the rules, deliver alerts through the\n"+
			"outbox, checkpoint state. SIGHUP (or a change to a rule file) reloads the rules; SIGTERM or\n"+
			"SIGINT stops it cleanly within shutdown_grace. With --once it reads everything available\n"+
			"since the last checkpoint, delivers, saves state and exits (for scheduled tasks): exit 1 if\n"+
			"alerts are left undelivered, 3 if a source did not complete its read (access denied, no such\n"+
			"log group or directory, an unreadable file) even when every alert was delivered.", stderr)
	cfgPath := fs.String("config", "secwatch.yaml", "configuration `file` (see docs/config.md)")
	once := fs.Bool("once", false, "process what is available, deliver, save state and exit")
	timeout := fs.Duration("timeout", 15*time.Minute, "with --once: stop after this `duration` even if a source is still\n"+
		"retrying (AWS unreachable), save state and exit 1; the next run resumes. 0 = no limit")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secwatch run: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch run: %v\n", err)
		return exitFailed
	}
	// A stdout whose reader went away must fail the stdout notifier (EPIPE,
	// retried, counted and logged), not kill the daemon and every other
	// notifier with it: once SIGPIPE is notified, a write to a broken pipe
	// returns EPIPE whatever the descriptor (os/signal, "SIGPIPE").
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	notifiers, ams, err := notifiers(ctx, cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("secwatch stopped")
		return exitFailed
	}
	d := &daemon.Daemon{
		Notifiers:     notifiers,
		Alertmanagers: ams,
		LogsClient:    logsClients(ctx, cfg.AWS, log),
		S3Client:      s3Clients(ctx, cfg.AWS, log),
		Config:        cfg,
		Log:           log,
		Stdin:         stdin,
		Stdout:        stdout,
		StdoutText:    stdoutText(cfg.Alerts.Stdout.Format, stdout),
		Once:          *once,
		Reload:        reload,
		Version:       buildVersion(),
		Revision:      buildRevision(),
	}
	if err := setHeartbeat(ctx, cfg, d); err != nil {
		log.Error().Err(err).Msg("secwatch stopped")
		return exitFailed
	}
	runCtx := ctx
	if *once && *timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	err = d.Run(runCtx)
	if *once && ctx.Err() == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		// A scheduled run that never finished reading (a source kept
		// failing) must not look like a success, nor hold the state lock
		// until the next run: what it read is checkpointed, the rest is
		// read next time.
		log.Error().Dur("timeout", *timeout).Err(err).
			Msg("run --once stopped at its timeout before every source finished; state saved, the next run resumes")
		return exitFailed
	}
	if errors.Is(err, daemon.ErrSourcesIncomplete) {
		log.Error().Err(err).Msg("run --once did not read every source; see the source errors above")
		return exitBlind
	}
	if err != nil {
		if errors.Is(err, daemon.ErrUndelivered) {
			log.Warn().Err(err).Msg("run finished with alerts pending")
		} else {
			log.Error().Err(err).Msg("secwatch stopped")
		}
		return exitFailed
	}
	return exitOK
}

// stdoutText tells whether the stdout notifier writes text: "text", or
// "auto" on a terminal.
func stdoutText(format string, stdout io.Writer) bool {
	switch format {
	case "text":
		return true
	case "json":
		return false
	}
	return isTerminal(stdout)
}

// newLogger builds the root logger: JSON to stderr, or console format on a
// terminal (log.format auto).
func newLogger(c config.Log, stderr io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log.level: %w", err)
	}
	w := stderr
	if c.Format == "console" || c.Format == "auto" && isTerminal(stderr) {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}
