package daemon

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/state"
)

// Checkpoint payload versions. Version 1 is one JSON document, engine
// included (secwatch before the binary checkpoints); it is still read.
// Version 2, written now, is
//
//	"SWCK2\n" <uvarint length of meta> <meta: JSON of everything but the engine>
//	<the engine's state in rules' binary snapshot encoding, to the end>
//
// The engine part is encoded, by the goroutine that writes, from an image
// of the engine's state copied out on the engine goroutine (rules.Image),
// into a buffer reused from checkpoint to checkpoint, and streamed into the
// state file (state.Dir.WriteStream): the engine stops only for the copy,
// and a checkpoint costs memory of the order of the state and its compact
// encoding, with no garbage of that size.
const (
	checkpointVersionJSON = 1
	checkpointVersion     = 2
	checkpointMagic       = "SWCK2\n"
	// maxCheckpointMeta bounds the meta part a decoder accepts.
	maxCheckpointMeta = 64 << 20
)

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
	Version int                                   `json:"version"`
	Seq     uint64                                `json:"seq"`
	Saved   time.Time                             `json:"saved"`
	Engine  *rules.Snapshot                       `json:"engine,omitempty"` // decoded; version 1 only on disk
	Cursors map[string]map[string]json.RawMessage `json:"cursors"`          // per source and key, opaque
	Flood   json.RawMessage                       `json:"flood,omitempty"`

	// image is the engine's state as captured on the engine goroutine, and
	// engine its binary snapshot encoding, made from the image on the
	// goroutine that writes (encodeEngine). Both nil for a decoded
	// checkpoint.
	image  *rules.Image
	engine []byte
}

// encodeEngine encodes ck's engine image into ck.engine (reusing its
// memory) and returns the image, which ck no longer holds; nil when ck has
// none.
func (ck *checkpoint) encodeEngine() *rules.Image {
	img := ck.image
	if img != nil {
		ck.engine = img.AppendTo(ck.engine[:0])
		ck.image = nil
	}
	return img
}

// writeCheckpoint writes ck in the version 2 format to w.
func writeCheckpoint(w io.Writer, ck *checkpoint) error {
	ck.Version = checkpointVersion
	eng := ck.engine
	if eng == nil && ck.Engine != nil {
		eng = rules.EncodeSnapshot(nil, ck.Engine)
	}
	meta := *ck
	meta.Engine = nil
	mb, err := json.Marshal(&meta)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	head := append([]byte(checkpointMagic), binary.AppendUvarint(nil, uint64(len(mb)))...)
	for _, part := range [][]byte{head, mb, eng} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// encodeCheckpoint returns ck in the version 2 format (for a backend that
// stores whole values).
func encodeCheckpoint(ck *checkpoint) ([]byte, error) {
	var b bytes.Buffer
	if err := writeCheckpoint(&b, ck); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeCheckpoint decodes a checkpoint of either version, told apart by
// their first bytes (a JSON document cannot start with "SWCK").
func decodeCheckpoint(raw []byte) (*checkpoint, error) {
	var ck checkpoint
	if rest, ok := bytes.CutPrefix(raw, []byte(checkpointMagic)); ok {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > maxCheckpointMeta || n > uint64(len(rest)-w) {
			return nil, errors.New("checkpoint: malformed or truncated meta length")
		}
		if err := json.Unmarshal(rest[w:w+int(n)], &ck); err != nil {
			return nil, fmt.Errorf("checkpoint meta: %w", err)
		}
		if ck.Version != checkpointVersion {
			return nil, fmt.Errorf("checkpoint: version %d in a version %d file", ck.Version, checkpointVersion)
		}
		s, err := rules.DecodeSnapshot(rest[w+int(n):])
		if err != nil {
			return nil, err
		}
		ck.Engine = s
		return &ck, nil
	}
	if err := json.Unmarshal(raw, &ck); err != nil {
		return nil, err
	}
	if ck.Version != checkpointVersionJSON {
		return nil, fmt.Errorf("version %d, want %d or %d", ck.Version, checkpointVersionJSON, checkpointVersion)
	}
	return &ck, nil
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
		ck, err := decodeCheckpoint(b)
		if err != nil {
			problems = append(problems, dir.Quarantine(name, err.Error()))
			continue
		}
		if best == nil || ck.Seq > best.Seq {
			best = ck
		}
	}
	return best, problems
}

// saveCheckpoint writes ck over the older of the two checkpoint files,
// streamed: the file's checksum is computed while it is written.
func saveCheckpoint(dir *state.Dir, ck *checkpoint) error {
	return dir.WriteStream(checkpointFiles[ck.Seq%2], func(w io.Writer) error { return writeCheckpoint(w, ck) })
}
