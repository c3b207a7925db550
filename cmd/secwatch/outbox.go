package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/state"
)

const outboxAbout = `Inspect and act on the alerts kept with the state: pending ones, dead letters and silenced
ones (in the state directory: outbox/, outbox/dead-letter/, silenced/; with state.backend: redis,
in Redis). list and show only read. redrive sends a dead-lettered or silenced alert again and drop
deletes it. In a state directory a running daemon is passed a request file it carries out within a
second, otherwise they take the outbox's lock; in Redis they act at once, atomically, and one
running replica adopts and delivers a re-driven alert (the first to start when none runs).`

// outboxRequestWait is how long redrive and drop wait for a running daemon
// to carry out their request.
const outboxRequestWait = 10 * time.Second

// outboxItem is one alert as list and show report it.
type outboxItem struct {
	Kind  string          `json:"kind"` // pending, dead or silenced
	ID    string          `json:"alert_id"`
	Rule  string          `json:"rule"`
	When  time.Time       `json:"when"` // queued, dead-lettered or silenced
	Note  string          `json:"note,omitempty"`
	Entry json.RawMessage `json:"entry"`
}

// cmdOutbox runs outbox list|show|redrive|drop.
func cmdOutbox(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, "Usage: secwatch outbox list|show|redrive|drop [flags] [ID]\n\n%s\n", outboxAbout)
		return exitOK
	case "list", "show", "redrive", "drop":
	default:
		fmt.Fprintf(stderr, "Usage: secwatch outbox list|show|redrive|drop [flags] [ID]\n\n%s\n", outboxAbout)
		return exitUsage
	}
	operands := "ID"
	if sub == "list" {
		operands = ""
	}
	fs := newFlags("outbox "+sub, operands, outboxAbout, stderr)
	cfgPath := fs.String("config", "secwatch.yaml", "configuration `file`: its state (state_dir or Redis) holds the outbox")
	out := outputFlag(fs)
	var pending, dead, silenced *bool
	if sub == "list" {
		pending = fs.Bool("pending", false, "list pending alerts (default: every kind)")
		dead = fs.Bool("dead", false, "list dead letters (default: every kind)")
		silenced = fs.Bool("silenced", false, "list silenced alerts (default: every kind)")
	}
	if code, ok := parseFlags(fs, args[1:], stdout); !ok {
		return code
	}
	store, code := openOpsArgs("outbox "+sub, fs.Args(), map[bool]int{true: 0, false: 1}[sub == "list"], *cfgPath, stderr)
	if store == nil {
		return code
	}
	defer store.close()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "secwatch outbox %s: %v\n", sub, err)
		return exitFailed
	}
	if sub == "list" {
		kinds := map[string]bool{"pending": *pending, "dead": *dead, "silenced": *silenced}
		if !*pending && !*dead && !*silenced {
			kinds = map[string]bool{"pending": true, "dead": true, "silenced": true}
		}
		items, err := store.items(kinds, "")
		if err != nil {
			return fail(err)
		}
		if out.json() {
			enc := json.NewEncoder(stdout)
			for _, it := range items {
				it.Entry = nil
				enc.Encode(it)
			}
			return exitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tALERT_ID\tRULE\tSINCE\tNOTE")
		for _, it := range items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Kind, it.ID, it.Rule, it.When.Format(time.RFC3339), it.Note)
		}
		tw.Flush()
		return exitOK
	}
	id := fs.Arg(0)
	// A dead letter's or silenced alert's file wins over a pending one of
	// the same id, which is on its way out (removed by the next commit).
	items, err := store.items(map[string]bool{"dead": true, "silenced": true}, id)
	if err == nil && len(items) == 0 {
		items, err = store.items(map[string]bool{"pending": true}, id)
	}
	if err != nil {
		return fail(err)
	}
	if len(items) == 0 {
		return fail(fmt.Errorf("no alert %s in %s", id, store))
	}
	it := items[0]
	if sub == "show" {
		if out.json() {
			json.NewEncoder(stdout).Encode(it)
			return exitOK
		}
		fmt.Fprintf(stdout, "kind: %s\n", it.Kind)
		var pretty strings.Builder
		b, _ := json.MarshalIndent(it.Entry, "", "  ")
		pretty.Write(b)
		fmt.Fprintln(stdout, pretty.String())
		return exitOK
	}
	if it.Kind == "pending" {
		return fail(fmt.Errorf("%s is pending: it is being delivered; only dead-lettered or silenced alerts can be re-driven or dropped", id))
	}
	how, err := store.act(daemon.OutboxRequest{Op: sub, Kind: it.Kind, ID: id})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "%s %s alert %s: %s\n", sub, it.Kind, id, how)
	return exitOK
}

// outboxItems reads the alerts of the given kinds (only id when it is not
// ""), pending first in delivery order, the others in file-name order. Files that vanish
// while being read (delivered meanwhile) are skipped.
func outboxItems(root *state.Dir, kinds map[string]bool, id string) ([]outboxItem, error) {
	dirs := []struct{ kind, path string }{
		{"dead", filepath.Join("outbox", "dead-letter")}, {"silenced", daemon.SilencedDir},
	}
	var items []outboxItem
	if kinds["pending"] {
		es, err := alerting.ReadPending(filepath.Join(root.Path(), "outbox"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range es {
			if id == "" || e.Doc.AlertID == id {
				b, _ := json.Marshal(e)
				items = append(items, outboxItem{Kind: "pending", ID: e.Doc.AlertID, Rule: e.Doc.Rule, When: e.Queued, Note: e.LastError, Entry: b})
			}
		}
	}
	for _, d := range dirs {
		if !kinds[d.kind] {
			continue
		}
		dir, err := state.OpenUnlocked(filepath.Join(root.Path(), d.path))
		if err != nil {
			continue // not made yet: nothing of this kind
		}
		names, err := dir.List()
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			aid, ok := strings.CutSuffix(n, ".json")
			if !ok || (id != "" && aid != id) || !alerting.ValidAlertID(aid) {
				continue
			}
			b, err := dir.Read(n)
			if err != nil {
				continue
			}
			it := itemOf(d.kind, aid, b)
			items = append(items, it)
		}
	}
	return items, nil
}

// itemOf decodes the entry b of the alert id of kind for list and show.
func itemOf(kind, id string, b []byte) outboxItem {
	it := outboxItem{Kind: kind, ID: id, Entry: b}
	if kind == "silenced" {
		var e alerting.SilencedEntry
		if json.Unmarshal(b, &e) == nil {
			it.Rule, it.When, it.Note = e.Doc.Rule, e.Silenced, "silence "+e.Silence
		}
		return it
	}
	var e alerting.Entry
	if json.Unmarshal(b, &e) == nil {
		it.Rule, it.When, it.Note = e.Doc.Rule, e.Queued, e.LastError
		if kind == "dead" {
			it.When, it.Note = e.DeadLettered, e.DeadLetterReason
		}
	}
	return it
}

// outboxAct carries out r: through a request file when a daemon holds the
// outbox, else itself under the outbox's lock.
func outboxAct(root *state.Dir, r daemon.OutboxRequest) (string, error) {
	outboxDir := filepath.Join(root.Path(), "outbox")
	lock, err := state.Open(outboxDir)
	if err == nil {
		defer lock.Close()
		return "done (no daemon running; the next start sends what was re-driven)", offlineAct(root, lock, r)
	}
	if !strings.Contains(err.Error(), "in use by another secwatch") {
		return "", err
	}
	reqs, err := state.OpenUnlocked(filepath.Join(root.Path(), daemon.RequestsDir))
	if err != nil {
		return "", fmt.Errorf("a daemon runs but has no requests directory (an older secwatch?): %w", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:]) + ".json"
	payload, _ := json.Marshal(r)
	if err := reqs.Write(name, payload); err != nil {
		return "", err
	}
	deadline := time.Now().Add(outboxRequestWait)
	for time.Now().Before(deadline) {
		if _, err := reqs.Read(name); err != nil {
			return "handed to the running daemon (its log says \"outbox request\")", nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("request %s not taken by the running daemon within %s; it stays and is carried out when the daemon gets to it", filepath.Join(reqs.Path(), name), outboxRequestWait)
}

// offlineAct carries out r with the outbox locked and no daemon running.
func offlineAct(root, outbox *state.Dir, r daemon.OutboxRequest) error {
	if r.Kind == "dead" {
		if r.Op == "redrive" {
			return alerting.RedriveClosed(outbox, r.ID)
		}
		return alerting.DropClosed(outbox, r.ID)
	}
	kept, err := root.Sub(daemon.SilencedDir)
	if err != nil {
		return err
	}
	if r.Op == "redrive" {
		e, err := daemon.ReadSilenced(kept, r.ID)
		if err != nil {
			return err
		}
		b, err := json.Marshal(alerting.Entry{Doc: e.Doc, Queued: time.Now().UTC()})
		if err == nil {
			err = outbox.Write(r.ID+".json", b)
		}
		if err != nil {
			return err
		}
	}
	if err := kept.Remove(r.ID + ".json"); err != nil {
		return errors.Join(errors.New("remove silenced copy"), err)
	}
	return nil
}
