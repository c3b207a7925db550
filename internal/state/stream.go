package state

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// lengthDigits is the width of the zero-padded length field of a streamed
// file's header, so that the header can be written first as a placeholder
// and rewritten in place once the payload's length and checksum are known.
// Read parses it as any other length ("000…123" is 123): a streamed file is
// an ordinary v1 file.
const lengthDigits = 20

// streamHeader returns the fixed-width header line for a payload of n
// bytes with checksum sum.
func streamHeader(sum []byte, n int64) []byte {
	return fmt.Appendf(nil, "%s %s %s %0*d\n", magic, version, hex.EncodeToString(sum), lengthDigits, n)
}

// hashWriter passes writes to w and into h, counting the bytes.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// WriteStream replaces the file name with the payload fill writes, with
// the same guarantees as Write — atomic (temporary file, fsync, rename,
// directory fsync), framed and checksummed — without ever holding the
// whole payload in memory: the checksum is computed while the payload is
// written, and the header, written first as a fixed-width placeholder, is
// rewritten in place before the fsync. When fill (or any step) fails the
// old content is intact and no temporary file is left.
func (d *Dir) WriteStream(name string, fill func(w io.Writer) error) error {
	if err := checkName(name); err != nil {
		return err
	}
	final := filepath.Join(d.path, name)
	if err := d.writeStream(name, final, fill); err != nil {
		return fmt.Errorf("write state file %s: %w", final, err)
	}
	return nil
}

func (d *Dir) writeStream(name, final string, fill func(w io.Writer) error) error {
	return d.replace(name, final, func(f *os.File) error {
		placeholder := streamHeader(make([]byte, sha256.Size), 0)
		if _, err := f.Write(placeholder); err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 256<<10)
		hw := &hashWriter{w: bw, h: sha256.New()}
		if err := fill(hw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		hdr := streamHeader(hw.h.Sum(nil), hw.n)
		if len(hdr) != len(placeholder) {
			return errors.New("state file header changed width") // cannot happen: n < 10^20
		}
		_, err := f.WriteAt(hdr, 0)
		return err
	})
}
