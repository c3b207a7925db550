package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzConvert: any input gives problems or a rule file that is valid
// YAML, never a panic (Convert also recovers, so a panic here is reported
// as the internal error it turns into).
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob("../../testdata/sigma/*/*.yml")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Convert([]File{{Name: "f.yml", Data: data}}, Options{})
		for _, p := range res.Errors {
			if strings.HasPrefix(p.Msg, "sigma: internal error: ") {
				t.Fatalf("panic: %s", p.Msg)
			}
		}
		var v any
		if err := yaml.Unmarshal(res.YAML, &v); err != nil {
			t.Fatalf("output is not yaml: %v\n%s", err, res.YAML)
		}
	})
}
