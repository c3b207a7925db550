// Package schemas holds the JSON Schemas of secwatch's YAML files: rule
// files, rule tests and the configuration, for editors (docs/schemas.md).
// The loaders (internal/rulefile, internal/ruletest, internal/config) stay
// the authority; tests keep the schemas' keys equal to the loaders' and
// check that both refuse the same broken documents.
package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// FS holds rules.schema.json, ruletest.schema.json and config.schema.json.
//
//go:embed *.schema.json
var FS embed.FS

// Keys returns, sorted, the property names of the object schema at pointer
// (a JSON pointer such as "/$defs/rule") in the named schema file,
// following a "$ref" found there.
func Keys(file, pointer string) ([]string, error) {
	b, err := FS.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var root any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	n, err := resolve(root, pointer)
	if err != nil {
		return nil, fmt.Errorf("%s#%s: %w", file, pointer, err)
	}
	for i := 0; i < 8; i++ {
		ref, ok := n["$ref"].(string)
		if !ok {
			break
		}
		if n, err = resolve(root, strings.TrimPrefix(ref, "#")); err != nil {
			return nil, fmt.Errorf("%s#%s: %w", file, pointer, err)
		}
	}
	props, ok := n["properties"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s#%s: no properties", file, pointer)
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

func resolve(root any, pointer string) (map[string]any, error) {
	n := root
	for _, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		if seg == "" {
			continue
		}
		seg = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		m, ok := n.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q: not an object", seg)
		}
		if n, ok = m[seg]; !ok {
			return nil, fmt.Errorf("%q: not found", seg)
		}
	}
	m, ok := n.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return m, nil
}

// Drift compares the property names of the object schemas of file, per
// JSON pointer, with a loader's keys, and describes every difference.
func Drift(file string, want map[string][]string) error {
	var diffs []string
	for pointer, keys := range want {
		got, err := Keys(file, pointer)
		if err != nil {
			diffs = append(diffs, err.Error())
			continue
		}
		for _, k := range keys {
			if !slices.Contains(got, k) {
				diffs = append(diffs, fmt.Sprintf("%s#%s: the loader knows %q, the schema does not", file, pointer, k))
			}
		}
		for _, k := range got {
			if !slices.Contains(keys, k) {
				diffs = append(diffs, fmt.Sprintf("%s#%s: the schema knows %q, the loader does not", file, pointer, k))
			}
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		return fmt.Errorf("%s", strings.Join(diffs, "\n"))
	}
	return nil
}
