package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
)

// TestS3SourceRefusesOnce: a --once run cannot tell when an s3 source has
// read everything, so it refuses one instead of hanging until its timeout.
func TestS3SourceRefusesOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(`state_dir: `+dir+`
rules: [`+filepath.Join(dir, "rules.yaml")+`]
sources:
  - {name: alb, type: s3, format: alb, bucket: logs}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Config: cfg, Log: zerolog.Nop(), Once: true,
		S3Client: func(config.Source) (S3Clients, error) { return S3Clients{}, nil }}
	err = d.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), `source "alb": type s3 does not support --once`) {
		t.Fatalf("got %v, want the s3 source refused", err)
	}
}
