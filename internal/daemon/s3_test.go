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

// TestS3InputScope: replicas each with its own queue on the same bucket
// and prefix share checkpoints; another prefix does not.
func TestS3InputScope(t *testing.T) {
	src := func(queue, prefix string) []config.Source {
		return []config.Source{{Name: "alb", Type: config.TypeS3, Format: "alb",
			S3: config.S3Source{QueueURL: queue, Bucket: "logs", Prefix: prefix}}}
	}
	a := inputScope(src("https://sqs.us-east-1.amazonaws.com/123456789012/a", "AWSLogs/1/"))
	b := inputScope(src("https://sqs.us-east-1.amazonaws.com/123456789012/b", "AWSLogs/1/"))
	if a != b {
		t.Errorf("scopes of two queues on one prefix: %s and %s, want equal", a, b)
	}
	if c := inputScope(src("https://sqs.us-east-1.amazonaws.com/123456789012/a", "AWSLogs/2/")); c == a {
		t.Errorf("scopes of two prefixes: both %s, want different", a)
	}
	file := []config.Source{{Name: "app", Type: config.TypeFile, Format: "json", Paths: []string{"/var/log/app.log"}}}
	if inputScope(file) == inputScope(append(file, src("", "AWSLogs/1/")...)) {
		t.Error("adding an s3 source did not change the scope")
	}
}
