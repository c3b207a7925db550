package redact

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/testutil"
)

// TestRedactionProperty: for random secrets in random secret-bearing
// fields (testutil.NewSecretField: secret-named fields, nested or not, and
// free text with Authorization headers, Bearer tokens, cookies, query
// strings, dict and JSON reprs), Value never returns the secret, and
// neither does any rendering built on it (Sanitize, ASCII). The seed is
// fixed; SECWATCH_REDACT_SEED overrides it.
func TestRedactionProperty(t *testing.T) {
	seed := uint64(7)
	if s := os.Getenv("SECWATCH_REDACT_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	const n = 20_000
	leaks := 0
	for range n {
		f := testutil.NewSecretField(r)
		v := Value(f.Key, f.Value)
		for _, out := range []string{v, Sanitize(v, 0), ASCII(v, 0)} {
			if strings.Contains(out, f.Secret) {
				leaks++
				if leaks <= 10 {
					t.Errorf("Value(%q, %q) = %q: the secret is still there", f.Key, f.Value, out)
				}
				break
			}
		}
	}
	if leaks > 0 {
		t.Errorf("seed %d: %d of %d secrets leaked", seed, leaks, n)
	}
	t.Logf("seed %d: %d random secrets in random fields, %d leaked", seed, n, leaks)
}
