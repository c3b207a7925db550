package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/state"
)

const silenceAbout = `Mute the alerts that match every --matcher (rule, severity, alert_id, a label or a group
field, in Alertmanager's syntax) for a while, without a reload. Silences are stored with the
state (the state directory, or Redis with state.backend: redis), which every running daemon
re-reads twice a second; a muted alert is kept (<state_dir>/silenced/, or Redis) and counted,
and 'secwatch outbox list --silenced' lists it.`

// cmdSilence runs silence add|list|expire.
func cmdSilence(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, "Usage: secwatch silence add|list|expire [flags]\n\n%s\n", silenceAbout)
		return exitOK
	case "add", "list", "expire":
	default:
		fmt.Fprintf(stderr, "Usage: secwatch silence add|list|expire [flags]\n\n%s\n", silenceAbout)
		return exitUsage
	}
	operands := ""
	if sub == "expire" {
		operands = "ID"
	}
	fs := newFlags("silence "+sub, operands, silenceAbout, stderr)
	cfgPath := fs.String("config", "secwatch.yaml", "configuration `file`: its state (state_dir or Redis) holds the silences")
	var matchers listFlag
	var dur *time.Duration
	var comment *string
	var all *bool
	var out *output
	switch sub {
	case "add":
		fs.Var(&matchers, "matcher", "`matcher` such as rule=alb-path-scan or client_ip=~\"203\\.0\\.113\\..*\" (repeatable; all must match)")
		dur = fs.Duration("for", time.Hour, "how long the silence lasts")
		comment = fs.String("comment", "", "why (shown by list)")
	case "list":
		all = fs.Bool("all", false, "also list silences that have ended")
		out = outputFlag(fs)
	}
	if code, ok := parseFlags(fs, args[1:], stdout); !ok {
		return code
	}
	store, code := openOpsArgs("silence "+sub, fs.Args(), map[bool]int{true: 1, false: 0}[sub == "expire"], *cfgPath, stderr)
	if store == nil {
		return code
	}
	defer store.close()
	now := time.Now()
	switch sub {
	case "list":
		set, err := store.readSilences()
		if err != nil {
			fmt.Fprintf(stderr, "secwatch silence list: %v\n", err)
			return exitFailed
		}
		if !*all {
			set.List = slices.DeleteFunc(set.List, func(s alerting.Silence) bool { return !s.Active(now) })
		}
		if out.json() {
			enc := json.NewEncoder(stdout)
			for _, s := range set.List {
				enc.Encode(s)
			}
			return exitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tENDS\tMATCHERS\tCOMMENT")
		for _, s := range set.List {
			st := "active"
			if !s.Active(now) {
				st = "ended"
			}
			m, _ := json.Marshal(s.Matchers)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%q\n", s.ID, st, s.Ends.Format(time.RFC3339), m, s.Comment)
		}
		tw.Flush()
		return exitOK
	case "add":
		s, err := alerting.NewSilence(matchers, *dur, *comment, now)
		if err == nil {
			err = store.updateSilences(func(set *alerting.Silences) error {
				set.Prune(now.Add(-24 * time.Hour))
				set.List = append(set.List, s)
				return nil
			})
		}
		if err != nil {
			fmt.Fprintf(stderr, "secwatch silence add: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s\tuntil %s\n", s.ID, s.Ends.Format(time.RFC3339))
		return exitOK
	default: // expire
		err := store.updateSilences(func(set *alerting.Silences) error { return set.Expire(fs.Arg(0), now) })
		if err != nil {
			fmt.Fprintf(stderr, "secwatch silence expire: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "expired %s\n", fs.Arg(0))
		return exitOK
	}
}

func readSilences(dir *state.Dir) (*alerting.Silences, error) {
	b, err := dir.Read(alerting.SilencesFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return alerting.DecodeSilences(b)
}

// updateSilences changes the silences file under its own flock
// (silences.lock), so two commands never lose each other's change; the
// daemon only reads the file.
func updateSilences(dir *state.Dir, change func(*alerting.Silences) error) error {
	lf, err := openLockFile(filepath.Join(dir.Path(), "silences.lock"))
	if err != nil {
		return err
	}
	defer lf()
	set, err := readSilences(dir)
	if err != nil {
		return err
	}
	if err := change(set); err != nil {
		return err
	}
	b, err := set.Encode()
	if err != nil {
		return err
	}
	return dir.Write(alerting.SilencesFile, b)
}

// openLockFile takes an exclusive flock on path, waiting for it, and
// returns its release.
func openLockFile(path string) (func(), error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { syscall.Close(fd) }, nil
}
