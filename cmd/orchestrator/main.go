// Command orchestrator brings a fleet of PostgreSQL tenant databases to one
// schema version: one shared migration set, many targets, bounded
// parallelism, a per-target report.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "interrupted: starting no new target, cancelling statements in flight, releasing locks (interrupt again to exit at once)")
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "interrupted twice: exiting now")
		os.Exit(exitInterrupted)
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr, os.LookupEnv)
	cancel()
	os.Exit(code)
}
