package integration

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sivchari/kumo"
)

var emulator struct {
	once sync.Once
	url  string
}

// startEmulator returns the base URL ("http://127.0.0.1:port") of the kumo
// AWS emulator running in this test process, starting it on first use.
//
// There is one emulator per process, never closed before the process
// exits: kumo keeps each service's state in package variables, so every
// kumo server in a process shares the same topics, queues and log groups
// (and a second server would rewire them, racing with the first). Tests
// that run in parallel must therefore name their resources apart; see
// uniqueName. startEmulator fails the test when KUMO_DATA_DIR is set,
// since kumo would then load and persist state there.
func startEmulator(t testing.TB) (endpoint string) {
	t.Helper()
	if dir := os.Getenv("KUMO_DATA_DIR"); dir != "" {
		t.Fatalf("KUMO_DATA_DIR is set (%q): kumo would share state with that directory; unset it", dir)
	}
	emulator.once.Do(func() { emulator.url = kumo.NewServer().URL })
	return emulator.url
}

// awsConfig returns an SDK configuration for the emulator at endpoint:
// static credentials test/test, region us-east-1, BaseEndpoint endpoint,
// a plain HTTP client. Nothing is read from the environment or shared
// config files (this machine sets AWS_CA_BUNDLE, for one), so tests do
// not depend on where they run. Service clients built from it keep the
// SDK's standard retryer; pass options to change it per client.
func awsConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

var nameSeq atomic.Int64

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// uniqueName returns base followed by the test's name and a sequence
// number, made of [A-Za-z0-9_-] and at most 75 characters (room for ".fifo"): a name for an
// emulator resource (queue, topic, log group) that no other test uses.
func uniqueName(t testing.TB, base string) string {
	n := fmt.Sprintf("-%d", nameSeq.Add(1))
	s := base + "-" + nameUnsafe.ReplaceAllString(t.Name(), "_")
	if len(s) > 75-len(n) {
		s = s[:75-len(n)]
	}
	return s + n
}
