package deploy

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerfile is what the tests need from ../Dockerfile: the build stage's
// environment, go build flags and layout commands, and the final stage's
// copies and runtime settings. Docker does not run on these machines, so
// static_test.go replays these steps itself.
type dockerfile struct {
	buildEnv   map[string]string
	goBuild    []string // go build arguments between "go build" and "-o"
	goBuildOut string   // the -o path
	layout     []string // build-stage RUN commands that assemble /out
	checks     []string // build-stage RUN commands that run secwatch (go run ./cmd/secwatch)
	copies     []dockerCopy
	user       string
	volumes    []string
	entrypoint string
	cmd        string
}

type dockerCopy struct {
	from, chown, src, dst string
}

// dockerIgnored tells whether a .dockerignore pattern list excludes the
// slash-separated path: a pattern matches the path or one of its parent
// directories, and "**/" matches any number of leading directories.
func dockerIgnored(patterns []string, name string) bool {
	segs := strings.Split(name, "/")
	matchFrom := func(p string, start int) bool {
		for i := start + 1; i <= len(segs); i++ {
			if ok, _ := path.Match(p, strings.Join(segs[start:i], "/")); ok {
				return true
			}
		}
		return false
	}
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			for i := range segs {
				if matchFrom(rest, i) {
					return true
				}
			}
		} else if matchFrom(p, 0) {
			return true
		}
	}
	return false
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	df := dockerfile{buildEnv: map[string]string{}}
	stage := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			stage = "final"
			if f := strings.Fields(rest); len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				stage = f[len(f)-1]
			}
		case "ENV":
			if stage == "build" {
				k, v, _ := strings.Cut(rest, "=")
				df.buildEnv[k] = v
			}
		case "RUN":
			if stage != "build" {
				t.Errorf("Dockerfile: RUN in the final stage (%q): the base has no shell", rest)
				continue
			}
			if _, after, ok := strings.Cut(rest, "go build "); ok {
				args := shellFields(after)
				i := slices.Index(args, "-o")
				if i < 0 || i+2 > len(args) {
					t.Fatalf("Dockerfile: go build without -o: %q", rest)
				}
				df.goBuild, df.goBuildOut = args[:i], args[i+1]
			}
			if strings.Contains(rest, "go run ./cmd/secwatch ") {
				df.checks = append(df.checks, rest)
			}
			if strings.HasPrefix(rest, "mkdir -p /out/") {
				df.layout = append(df.layout, rest)
			}
		case "COPY":
			if stage != "final" {
				continue
			}
			c := dockerCopy{}
			f := strings.Fields(rest)
			for len(f) > 2 && strings.HasPrefix(f[0], "--") {
				if v, ok := strings.CutPrefix(f[0], "--from="); ok {
					c.from = v
				}
				if v, ok := strings.CutPrefix(f[0], "--chown="); ok {
					c.chown = v
				}
				f = f[1:]
			}
			if len(f) != 2 {
				t.Fatalf("Dockerfile: COPY %q: want one source and one destination", rest)
			}
			c.src, c.dst = f[0], f[1]
			df.copies = append(df.copies, c)
		case "USER":
			df.user = rest
		case "VOLUME":
			df.volumes = append(df.volumes, rest)
		case "ENTRYPOINT":
			df.entrypoint = rest
		case "CMD":
			df.cmd = rest
		}
	}
	return df
}

// shellFields splits words the way sh would for the simple, double-quoted
// arguments of the Dockerfile's go build line.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			in = true
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// TestDockerfile: the image's promises, as written in the Dockerfile.
func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t)
	if df.buildEnv["CGO_ENABLED"] != "0" {
		t.Errorf("build stage: CGO_ENABLED: got %q, want 0", df.buildEnv["CGO_ENABLED"])
	}
	if !slices.Contains(df.goBuild, "-trimpath") {
		t.Errorf("go build %q: no -trimpath", df.goBuild)
	}
	if df.user != "65532:65532" {
		t.Errorf("USER: got %q, want 65532:65532 (numeric, so runtimes can check it is not root)", df.user)
	}
	if !slices.Equal(df.volumes, []string{`["/var/lib/secwatch"]`}) {
		t.Errorf("VOLUME: got %q, want the state directory only", df.volumes)
	}
	if df.entrypoint != `["/usr/local/bin/secwatch"]` {
		t.Errorf("ENTRYPOINT: got %q", df.entrypoint)
	}
	if df.cmd != `["run", "--config", "/etc/secwatch/secwatch.yaml"]` {
		t.Errorf("CMD: got %q", df.cmd)
	}
	var dsts []string
	for _, c := range df.copies {
		if c.from != "build" {
			t.Errorf("COPY %s: from the build stage only", c.src)
		}
		dsts = append(dsts, c.dst)
		if c.dst == "/var/lib/secwatch" && c.chown != "65532:65532" {
			t.Errorf("the state directory is copied owned by %q, want 65532:65532", c.chown)
		}
		if c.dst != "/var/lib/secwatch" && c.chown != "" {
			t.Errorf("COPY %s: owned by %s; only the state directory belongs to the runtime user", c.dst, c.chown)
		}
	}
	if want := []string{"/usr/local/bin/secwatch", "/etc/secwatch", "/var/lib/secwatch"}; !slices.Equal(dsts, want) {
		t.Errorf("final stage copies: got %q, want %q", dsts, want)
	}
	// The build context: .dockerignore must keep every file the build stage uses.
	var patterns []string
	for _, l := range strings.Split(readFile(t, "../.dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	needed := []string{"go.mod", "go.sum"}
	for _, dir := range []string{"cmd/secwatch", "internal", "rules", "deploy/config"} {
		filepath.WalkDir(filepath.Join("..", dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel("..", p)
			rel = filepath.ToSlash(rel)
			if strings.HasSuffix(rel, "_test.go") || strings.Contains(rel, "/testdata/") {
				return nil // not compiled
			}
			if strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, ".yaml") {
				needed = append(needed, rel)
			}
			return nil
		})
	}
	for _, f := range needed {
		if dockerIgnored(patterns, f) {
			t.Errorf(".dockerignore drops %s, which the build uses", f)
		}
	}
	if !dockerIgnored(patterns, ".git/config") || !dockerIgnored(patterns, "internal/ingest/ingest_test.go") {
		t.Error(".dockerignore keeps .git or test files in the build context")
	}
	for _, l := range df.layout {
		for _, f := range regexp.MustCompile(`(?:rules|deploy/config)/[\w.-]+\.yaml`).FindAllString(l, -1) {
			if _, err := os.Stat(filepath.Join("..", f)); err != nil {
				t.Errorf("Dockerfile copies %s: %v", f, err)
			}
		}
	}
	if len(df.layout) == 0 {
		t.Error("Dockerfile: no RUN mkdir -p /out/… line laying out the image")
	}
}
