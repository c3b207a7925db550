package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/config"
)

// cmdHealthcheck asks a running daemon's /healthz, for a container health
// check in an image without a shell or curl.
func cmdHealthcheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("healthcheck", "",
		"Ask the running daemon's /healthz: exit 0 when it answers 200, 1 otherwise, with the reason\n"+
			"(the daemon's answer, or why it did not answer) on stderr. For container health checks: the\n"+
			"image has no shell and no curl. The address is the configuration's http.listen (a wildcard\n"+
			"host is asked on loopback) unless --url names it. A --once run serves no /healthz.", stderr)
	cfgPath := fs.String("config", "secwatch.yaml", "configuration `file` whose http.listen the daemon serves")
	rawURL := fs.String("url", "", "the daemon's /healthz `URL` (http://127.0.0.1:9464/healthz); overrides --config")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this `duration`")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secwatch healthcheck: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	url := *rawURL
	if url == "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailed
		}
		if url, err = healthzURL(cfg.HTTP.Listen); err != nil {
			fmt.Fprintf(stderr, "secwatch healthcheck: %v\n", err)
			return exitFailed
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	status, body, err := askHealthz(ctx, url)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch healthcheck: %v\n", err)
		return exitFailed
	}
	if status != http.StatusOK {
		fmt.Fprintf(stderr, "secwatch healthcheck: %s answered %d: %s\n", url, status, body)
		return exitFailed
	}
	fmt.Fprintln(stdout, body)
	return exitOK
}

// healthzURL is the /healthz URL of a daemon listening on listen; a
// wildcard or empty host is asked on loopback.
func healthzURL(listen string) (string, error) {
	if listen == "" {
		return "", fmt.Errorf("http.listen is empty: the daemon serves no /healthz (set it, or pass --url)")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("http.listen %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// askHealthz fetches url and returns its status and its body.
func askHealthz(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", url, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}
