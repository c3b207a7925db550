package integration

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/testutil"
)

// TestS3SIGKILL runs the secwatch binary with a type s3 source against the
// emulator while objects keep arriving, and kills it with SIGKILL at random
// instants 30 times (mid-object, between a checkpoint and the queue
// deletes, anywhere), then lets a last run finish. The alerts delivered,
// deduplicated by alert_id, equal a replay of the same objects, each with
// the count of its burst: no line was counted twice or lost.
func TestS3SIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary 30 times")
	}
	const kills = 30
	nObj, nLines := 500, 210
	f := newS3Fixture(t)
	objs := albObjects(t, time.Now(), nObj, nLines)
	f.notify(t, true)
	bin := secwatchBinary(t)
	dir := t.TempDir()
	rulePath, cfgPath := writeS3Config(t, dir, f)
	var outputs []string
	start := func() (*exec.Cmd, *lockedBuffer, *lockedBuffer) { return startSecwatch(t, bin, cfgPath, dir) }

	// Objects arrive while the daemon is killed and restarted.
	uploaded := f.putWhileRunning(t, objs)
	for range kills {
		cmd, out, _ := start()
		time.Sleep(time.Duration(150+rand.IntN(600)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		outputs = append(outputs, out.String())
	}
	<-uploaded
	cmd, out, log := start()
	eventuallyOr(t, 180*time.Second, "every object in the ledger", log, func() bool {
		return testutil.Metric(log.String(), `secwatch_s3_ledger_objects{source="alb"}`) >= int64(nObj)
	})
	eventuallyOr(t, 60*time.Second, "the outbox empty", log, func() bool {
		return testutil.Metric(log.String(), "secwatch_outbox_depth") == 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last run: %v\n%s", err, log)
	}
	outputs = append(outputs, out.String())

	got := map[string]alerting.Document{}
	for _, o := range outputs {
		docs, _ := stdoutAlerts(t, completeLines(o))
		for id, d := range docs {
			got[id] = d
		}
	}
	want := replayAlerts(t, rulePath, objs)
	if len(got) != len(want) {
		t.Errorf("alerts: got %d distinct, replay %d", len(got), len(want))
	}
	for id, w := range want {
		d, ok := got[id]
		if !ok {
			t.Errorf("alert %s (%v) not delivered", id, w.Group)
			continue
		}
		if d.Count != burstLines || d.FirstSeen != w.FirstSeen || d.Time != w.Time {
			t.Errorf("alert %s: count %d first_seen %s time %s, replay: count %d %s %s", id, d.Count, d.FirstSeen, d.Time, w.Count, w.FirstSeen, w.Time)
		}
	}
	for id, d := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("alert %s (%v, count %d, time %s) not in the replay", id, d.Group, d.Count, d.Time)
		}
	}
	t.Logf("%d kills; %d objects, %d lines; %d alerts equal to replay's", kills, nObj, nObj*nLines, len(want))
}

// startSecwatch starts the secwatch binary bin with `run --config cfgPath`,
// with emulator credentials and HOME in dir; out is its stdout, log its
// stderr.
func startSecwatch(t *testing.T, bin, cfgPath, dir string) (cmd *exec.Cmd, out, log *lockedBuffer) {
	t.Helper()
	cmd = exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "HOME=" + dir}
	out, log = &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, log
}

// completeLines drops what follows o's last newline: a kill can cut the
// last line short.
func completeLines(o string) string {
	return o[:strings.LastIndexByte(o, '\n')+1]
}
