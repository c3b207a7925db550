package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/state"
)

// checkpointVersion is the version of the checkpoint payload.
const checkpointVersion = 1

// Checkpoints alternate between two files, so that a checkpoint that turns
// out corrupt (a disk that lied about fsync, a bit flip) still leaves the
// previous one to resume from. Resuming from an older checkpoint re-reads
// events already counted; the alerts they cause again carry the same ids and
// the outbox drops them.
var checkpointFiles = [2]string{"checkpoint-a", "checkpoint-b"}

// checkpoint is everything the daemon needs to resume exactly: the engine's
// windows and cooldowns together with the cursors of the last events the
// engine observed, saved in one atomic write so they always agree.
type checkpoint struct {
	Version int                                 `json:"version"`
	Seq     uint64                              `json:"seq"`
	Saved   time.Time                           `json:"saved"`
	Engine  *rules.Snapshot                     `json:"engine"`
	Cursors map[string]map[string]ingest.Cursor `json:"cursors"`
	Flood   json.RawMessage                     `json:"flood,omitempty"`
}

// loadCheckpoint returns the newest valid checkpoint (nil when there is
// none) and the problems met on the way, which the caller logs: a corrupt
// file is moved aside by the state directory and never stops a start.
func loadCheckpoint(dir *state.Dir) (*checkpoint, []error) {
	var best *checkpoint
	var problems []error
	for _, name := range checkpointFiles {
		b, err := dir.Read(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			problems = append(problems, err)
			continue
		}
		var ck checkpoint
		if err := json.Unmarshal(b, &ck); err != nil || ck.Version != checkpointVersion {
			if err == nil {
				err = fmt.Errorf("version %d, want %d", ck.Version, checkpointVersion)
			}
			problems = append(problems, dir.Quarantine(name, err.Error()))
			continue
		}
		if best == nil || ck.Seq > best.Seq {
			best = &ck
		}
	}
	return best, problems
}

// saveCheckpoint writes ck over the older of the two checkpoint files.
func saveCheckpoint(dir *state.Dir, ck *checkpoint) error {
	ck.Version = checkpointVersion
	b, err := json.Marshal(ck)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return dir.Write(checkpointFiles[ck.Seq%2], b)
}
