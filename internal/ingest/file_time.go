package ingest

import "time"

// inherited is the time the file's next line inherits if it carries none
// (FileCursor.Time); zero before any line was parsed.
func (tf *tailFile) inherited() time.Time {
	if tf.dec == nil {
		return time.Time{}
	}
	return tf.dec.last
}
