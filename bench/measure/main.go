// Command measure runs a command and reports, as one JSON object on
// standard output, its wall time, user and system CPU time and peak
// resident set size (the child's rusage; ru_maxrss is in KiB on Linux). It
// needs no /usr/bin/time.
//
//	measure [-stdout FILE] [-stderr FILE] -- command [args...]
//
// The command's standard output and error go to the named files (default:
// discarded and passed through, respectively). measure exits with the
// command's exit code, after printing the report.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Report is what measure prints.
type Report struct {
	Command     []string `json:"command"`
	ExitCode    int      `json:"exit_code"`
	WallSeconds float64  `json:"wall_seconds"`
	UserSeconds float64  `json:"user_seconds"`
	SysSeconds  float64  `json:"sys_seconds"`
	CPUSeconds  float64  `json:"cpu_seconds"`
	MaxRSSKiB   int64    `json:"max_rss_kib"`
}

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	outFile := fs.String("stdout", "", "write the command's standard output to `FILE` (default: discard)")
	errFile := fs.String("stderr", "", "write the command's standard error to `FILE` (default: pass through)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: measure [-stdout FILE] [-stderr FILE] -- command [args...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2, errors.New("no command")
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin = nil
	cmd.Stderr = stderr
	for _, f := range []struct {
		name string
		dst  *io.Writer
	}{{*outFile, &cmd.Stdout}, {*errFile, &cmd.Stderr}} {
		if f.name == "" {
			continue
		}
		file, err := os.Create(f.name)
		if err != nil {
			return 1, err
		}
		defer file.Close()
		*f.dst = file
	}

	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 1, err // did not start
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 1, errors.New("no rusage on this platform")
	}
	r := Report{
		Command:     fs.Args(),
		ExitCode:    cmd.ProcessState.ExitCode(),
		WallSeconds: wall.Seconds(),
		UserSeconds: time.Duration(ru.Utime.Nano()).Seconds(),
		SysSeconds:  time.Duration(ru.Stime.Nano()).Seconds(),
		MaxRSSKiB:   int64(ru.Maxrss),
	}
	r.CPUSeconds = r.UserSeconds + r.SysSeconds
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		return 1, err
	}
	return r.ExitCode, nil
}
