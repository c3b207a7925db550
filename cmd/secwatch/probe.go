package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/probe"
	"github.com/secwatch/secwatch/internal/redact"
)

func cmdProbe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("probe", "URL",
		"Check a service from the outside against requirements 18 (TLS, no plaintext), 19 (API key,\n"+
			"RFC 6750 challenge), 20 (CORS) and 24.5 (OAuth metadata): one line per check naming its\n"+
			"requirement, ✓ pass, ✗ fail, ! warning, ? partly untested (the detail names the flag that\n"+
			"would test it), - not applicable. Exit 1 if any check fails (warnings do not fail; untested\n"+
			"parts fail only with --fail-untested). The API key is read from the environment variable\n"+
			"--api-key-env or the file --api-key-file and is never printed. See docs/probes.md.", stderr)
	origin := fs.String("origin", probe.DefaultOrigin, "an `origin` the service must refuse")
	allowed := fs.String("allowed-origin", "", "an `origin` the service must allow (default: that part of cors is untested)")
	keyEnv := fs.String("api-key-env", probe.DefaultAPIKeyEnv, "environment variable `NAME` holding a valid API key")
	keyFile := fs.String("api-key-file", "", "`file` holding a valid API key (a mounted secret), instead of --api-key-env")
	asJSON := fs.Bool("json", false, "one JSON object per check (the probe events) instead of text")
	outputAlias(fs, asJSON)
	oauth := fs.Bool("oauth", false, "the service is an OAuth protected resource: require its metadata document")
	plain := fs.String("plaintext-url", "", "the http:// `URL` to try plain HTTP at (default: URL on port 80)")
	caBundle := fs.String("ca-bundle", "", "PEM `file` of extra trusted roots")
	var checks listFlag
	fs.Var(&checks, "check", "run only this `check` (repeatable): "+strings.Join(probe.Checks, ", "))
	timeout := fs.Duration("timeout", probe.DefaultTimeout, "per connection and request")
	warnDays := fs.Int("cert-warn-days", probe.DefaultCertWarnDays, "warn when the certificate expires in fewer `days`")
	failDays := fs.Int("cert-fail-days", probe.DefaultCertFailDays, "fail when the certificate expires in fewer `days`")
	failUntested := fs.Bool("fail-untested", false, "exit 1 also when part of a requirement is untested (for a deployment gate)")
	originPost := fs.String("disallowed-origin-post", "fail", "severity of a POST with a disallowed Origin not refused with 403: fail or warn")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	// Flags may also follow the URL.
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "secwatch probe: a URL is required (https://host/mcp)")
		return exitUsage
	}
	target := rest[0]
	if code, ok := parseFlags(fs, rest[1:], stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secwatch probe: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if err := probe.ValidateURL(target); err != nil {
		fmt.Fprintf(stderr, "secwatch probe: URL %s, got %q\n", err, redact.URL(target))
		return exitUsage
	}
	if msg := checkProbeFlags(fs, *keyEnv, *keyFile, *plain, *origin, *allowed); msg != "" {
		fmt.Fprintf(stderr, "secwatch probe: %s\n", msg)
		return exitUsage
	}
	for _, c := range checks {
		if !contains(probe.Checks, c) {
			fmt.Fprintf(stderr, "secwatch probe: --check must be one of %s, got %q\n", strings.Join(probe.Checks, ", "), c)
			return exitUsage
		}
	}
	if *originPost != "fail" && *originPost != "warn" {
		fmt.Fprintf(stderr, "secwatch probe: --disallowed-origin-post must be fail or warn, got %q\n", *originPost)
		return exitUsage
	}
	if *failDays < 1 || *warnDays <= *failDays {
		fmt.Fprintf(stderr, "secwatch probe: --cert-fail-days must be at least 1 and less than --cert-warn-days\n")
		return exitUsage
	}
	pc := config.Probe{
		Name: "cli", URL: target, Timeout: *timeout, Checks: []string(checks), Origin: *origin, AllowedOrigin: *allowed,
		APIKeyEnv: *keyEnv, APIKeyFile: *keyFile, OAuth: *oauth, PlaintextURL: *plain, CABundle: *caBundle,
		CertWarnDays: *warnDays, CertFailDays: *failDays, DisallowedOriginPost: *originPost,
	}
	if len(checks) == 0 {
		pc.Checks = nil
	}
	if *keyFile != "" {
		pc.APIKeyEnv = ""
	}
	t, err := daemon.ProbeTarget(pc, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "secwatch probe: %v\n", err)
		return exitFailed
	}
	t.Name = "" // the URL's host
	results := probe.Run(ctx, t)
	return writeProbeReport(stdout, target, results, *asJSON, *failUntested)
}

// checkProbeFlags checks the flags that may hold a credential by mistake
// and returns the problem ("" when none). A refused value is never quoted
// whole: a key given as the variable name is not shown at all, and a URL's
// or origin's user information is masked.
func checkProbeFlags(fs *flag.FlagSet, keyEnv, keyFile, plain, origin, allowed string) string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if keyFile != "" && set["api-key-env"] {
		return "--api-key-env and --api-key-file exclude each other"
	}
	if err := probe.ValidateEnvName(keyEnv); err != nil && keyFile == "" {
		return "--api-key-env " + err.Error()
	}
	if err := probe.ValidatePlaintextURL(plain); plain != "" && err != nil {
		return fmt.Sprintf("--plaintext-url %s, got %q", err, redact.URL(plain))
	}
	for _, o := range []struct{ flag, v string }{{"--origin", origin}, {"--allowed-origin", allowed}} {
		if strings.Contains(o.v, "@") {
			return fmt.Sprintf("%s must not hold user information (user:password@), got %q", o.flag, redact.URL(o.v))
		}
	}
	return ""
}

// writeProbeReport writes the results and returns the exit code: 1 when a
// check failed, or when failUntested and something was untested.
func writeProbeReport(w io.Writer, target string, results []probe.Result, asJSON, failUntested bool) int {
	counts := map[probe.Status]int{}
	untested := false
	for i := range results {
		counts[results[i].Status()]++
		untested = untested || results[i].UntestedCodes() != ""
	}
	if asJSON {
		for i := range results {
			ev := results[i].Event()
			var b bytes.Buffer
			b.WriteString(`{"time":`)
			tj, _ := json.Marshal(ev.Time.UTC().Format(time.RFC3339Nano))
			b.Write(tj)
			for _, f := range ev.Fields {
				k, _ := json.Marshal(f.Key)
				v, _ := json.Marshal(f.Value)
				b.WriteByte(',')
				b.Write(k)
				b.WriteByte(':')
				b.Write(v)
			}
			b.WriteString("}\n")
			w.Write(b.Bytes())
		}
	} else {
		fmt.Fprintf(w, "probe %s\n", target)
		for i := range results {
			fmt.Fprintln(w, results[i].Line())
		}
		fmt.Fprintf(w, "%d checks: %d passed, %d failed, %d warnings, %d partly untested, %d not applicable\n",
			len(results), counts[probe.Pass], counts[probe.Fail], counts[probe.Warn], counts[probe.Untested], counts[probe.Skip])
	}
	if counts[probe.Fail] > 0 || failUntested && untested {
		return exitFailed
	}
	return exitOK
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
