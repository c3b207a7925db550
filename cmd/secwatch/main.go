// Command secwatch is the security monitoring and alerting daemon and its
// tools: replay, check, test, explain (and, with the daemon, run, alarms and
// probe). main only turns signals into a context; run does the rest, so that
// end-to-end tests can call it directly.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
