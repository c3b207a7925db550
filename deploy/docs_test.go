package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const deployDoc = "../docs/deploy.md"

// docCommands returns the commands of the sh blocks of docs/deploy.md, with
// continuation lines joined and comments dropped.
func docCommands(t *testing.T) []string {
	t.Helper()
	var cmds []string
	in := false
	var cur strings.Builder
	for _, line := range strings.Split(readFile(t, deployDoc), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			in = trim == "```sh"
			continue
		}
		if !in || trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if c, ok := strings.CutSuffix(trim, "\\"); ok {
			cur.WriteString(c)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trim)
		cmds = append(cmds, cur.String())
		cur.Reset()
	}
	if len(cmds) == 0 {
		t.Fatal("docs/deploy.md has no sh commands")
	}
	return cmds
}

// TestDocCommands checks every command of docs/deploy.md against what it
// names: secwatch commands run (the offline ones, check and test, for real
// with the exports the page gives; the others' subcommands and flags
// against --help), aws cloudformation deploy against the template's
// parameters, docker build against the Dockerfile's build arguments.
func TestDocCommands(t *testing.T) {
	bin := buildLikeDockerfile(t, parseDockerfile(t))
	tpl := loadTemplate(t)
	df := readFile(t, "../Dockerfile")
	env := os.Environ()
	seen := map[string]int{}
	for _, c := range docCommands(t) {
		f := shellFields(c)
		switch {
		case f[0] == "export":
			for _, kv := range f[1:] {
				if !strings.Contains(kv, "=") {
					t.Errorf("export %q: want NAME=value", kv)
				}
				env = append(env, kv)
			}
		case f[0] == "secwatch":
			seen["secwatch"]++
			checkSecwatchCommand(t, bin, env, f)
		case len(f) > 2 && f[0] == "aws" && f[1] == "cloudformation" && f[2] == "deploy":
			seen["deploy"]++
			checkDeployCommand(t, tpl, c, f)
		case len(f) > 1 && f[0] == "docker" && f[1] == "build":
			seen["docker build"]++
			for i, a := range f {
				if a == "--build-arg" && i+1 < len(f) {
					name, _, _ := strings.Cut(f[i+1], "=")
					if !regexp.MustCompile(`(?m)^ARG ` + regexp.QuoteMeta(name) + `(=|$)`).MatchString(df) {
						t.Errorf("%s: the Dockerfile has no ARG %s", c, name)
					}
				}
			}
			if f[len(f)-1] != "." {
				t.Errorf("%s: want the repository root as the build context", c)
			}
		default:
			t.Logf("not checked: %s", c)
		}
	}
	if seen["secwatch"] < 6 || seen["deploy"] < 3 || seen["docker build"] != 1 {
		t.Errorf("commands checked: %v; the page lost its examples", seen)
	}
}

// offline are the secwatch commands that touch nothing outside the
// repository: the doc's instances are run and must succeed.
var offline = []string{"check", "test"}

func checkSecwatchCommand(t *testing.T, bin string, env []string, f []string) {
	t.Helper()
	line := strings.Join(f, " ")
	if len(f) < 2 {
		t.Errorf("%s: no command", line)
		return
	}
	if slices.Contains(offline, f[1]) {
		cmd := exec.Command(bin, f[1:]...)
		cmd.Dir = ".."
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
		return
	}
	// The command and its subcommand exist, and every flag used is one of theirs.
	help := []string{f[1]}
	if f[1] == "alarms" && len(f) > 2 {
		help = append(help, f[2])
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, append(help, "--help")...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: secwatch %s --help: %v\n%s", line, strings.Join(help, " "), err, out.String())
		return
	}
	if !strings.Contains(out.String(), "Usage: secwatch "+strings.Join(help, " ")) {
		t.Errorf("%s: secwatch %s --help does not describe it:\n%s", line, strings.Join(help, " "), out.String())
	}
	for _, a := range f[2:] {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `(\s|$)`).MatchString(out.String()) {
				t.Errorf("%s: secwatch %s has no flag --%s", line, strings.Join(help, " "), name)
			}
		}
	}
}

func checkDeployCommand(t *testing.T, tpl *Template, line string, f []string) {
	t.Helper()
	given := map[string]string{}
	opts := map[string]string{}
	for i := 3; i < len(f); i++ {
		if f[i] == "--parameter-overrides" {
			for i+1 < len(f) && !strings.HasPrefix(f[i+1], "--") {
				i++
				k, v, ok := strings.Cut(f[i], "=")
				if !ok {
					t.Errorf("parameter override %q: want Key=Value", f[i])
				}
				given[k] = v
			}
			continue
		}
		if strings.HasPrefix(f[i], "--") && i+1 < len(f) {
			opts[f[i]] = f[i+1]
			i++
		}
	}
	if opts["--template-file"] != templatePath && opts["--template-file"] != "deploy/"+templatePath {
		t.Errorf("%.60s…: --template-file %q, want deploy/%s", line, opts["--template-file"], templatePath)
	}
	if len(tpl.OfType("AWS::IAM::Role")) > 0 && opts["--capabilities"] != "CAPABILITY_IAM" {
		t.Errorf("%.60s…: the template creates IAM roles: want --capabilities CAPABILITY_IAM, got %q", line, opts["--capabilities"])
	}
	for k, v := range given {
		p, ok := tpl.Parameters[k]
		if !ok {
			t.Errorf("%.60s…: %s is not a parameter of the template", line, k)
			continue
		}
		if allowed := branches(p["AllowedValues"]); len(allowed) > 0 && !slices.Contains(allowed, any(v)) {
			t.Errorf("%.60s…: %s=%s is not one of %v", line, k, v, allowed)
		}
		if pat, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile(pat).MatchString(v) {
			t.Errorf("%.60s…: %s=%s does not match %s", line, k, v, pat)
		}
	}
	for k, p := range tpl.Parameters {
		if _, hasDefault := p["Default"]; !hasDefault {
			if _, ok := given[k]; !ok {
				t.Errorf("%.60s…: required parameter %s is not given", line, k)
			}
		}
	}
}
