package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/sigma"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

func cmdSigma(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "convert" {
		return cmdSigmaConvert(ctx, args[1:], stdin, stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		fmt.Fprintln(stdout, "Usage: secwatch sigma convert [flags] FILE|DIR...")
		return exitOK
	}
	fmt.Fprintln(stderr, "Usage: secwatch sigma convert [flags] FILE|DIR...")
	return exitUsage
}

func cmdSigmaConvert(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("sigma convert", "FILE|DIR...",
		"Convert Sigma detection and correlation rules into a native rule file on stdout.\n"+
			"Directories are read recursively (*.yml, *.yaml). Rules that need a field the pipeline\n"+
			"lacks are skipped with a warning on stderr; any other problem is printed as\n"+
			"file:line:col: rule: key: problem and the exit code is 1 (with --keep-going, the rules\n"+
			"with problems are left out instead). See docs/sigma.md.", stderr)
	pipeline := fs.String("pipeline", "", "field mapping: "+strings.Join(sigma.PipelineNames, ", ")+
		" (default: alb for webserver rules, json for the others)")
	keepGoing := fs.Bool("keep-going", false, "leave out the rules that have problems, print the problems, and convert the rest (exit 0)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	files, errs := readSigmaFiles(fs.Args())
	res := sigma.Convert(files, sigma.Options{Pipeline: *pipeline})
	otherLogs := 0
	for _, w := range res.Warnings {
		if w.Key == "logsource" { // a repository holds rules for many logs: count them
			otherLogs++
			continue
		}
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if otherLogs > 0 {
		fmt.Fprintf(stderr, "skipped %d rules for other logs than the pipeline reads\n", otherLogs)
	}
	for _, p := range res.Errors {
		errs = append(errs, p)
	}
	if len(errs) > 0 && !*keepGoing {
		fmt.Fprintln(stderr, errs)
		return exitFailed
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "left out: %s\n", e)
	}
	// What is printed must load like a hand-written file.
	if _, err := rulefile.Parse("sigma-convert.yaml", res.YAML); err != nil {
		fmt.Fprintf(stderr, "secwatch sigma convert: the converted rules do not load (a bug):\n%v\n", err)
		return exitFailed
	}
	stdout.Write(res.YAML)
	fmt.Fprintf(stderr, "converted %d rules; %d skipped, %d problems left out\n", res.Rules, len(res.Warnings), len(errs))
	return exitOK
}

// readSigmaFiles reads files and, recursively, the *.yml and *.yaml files
// of directories, in name order.
func readSigmaFiles(paths []string) ([]sigma.File, yamldiag.ErrorList) {
	var files []sigma.File
	var errs yamldiag.ErrorList
	for _, p := range paths {
		err := filepath.WalkDir(p, func(name string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := filepath.Ext(name)
			if e.IsDir() || (name != p && ext != ".yml" && ext != ".yaml") {
				return nil
			}
			data, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			files = append(files, sigma.File{Name: name, Data: data})
			return nil
		})
		if err != nil {
			errs = append(errs, yamldiag.Error{File: p, Msg: err.Error()})
		}
	}
	return files, errs
}
