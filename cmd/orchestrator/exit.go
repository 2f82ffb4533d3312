package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Exit codes, as the README's "Exit codes" section states them.
const (
	exitOK          = 0
	exitFailed      = 1   // a target failed, was rolled back, locked or skipped
	exitUsage       = 2   // usage or configuration error: nothing was touched
	exitDrift       = 3   // drift found
	exitInterrupted = 130 // interrupted by a signal
)

// exitError carries an exit code decided by a command's outcome; its
// message, if any, has already been shown.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake in how the tool was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// discoveryError is a fleet whose discover sources could not be asked (a
// server unreachable, a query that failed) or found a conflict: the fleet
// file may well be valid.
type discoveryError struct{ err *fleet.Error }

func (e discoveryError) Error() string { return e.err.Error() }

// exitCode maps the error a command returned to the process exit code and
// prints what the operator needs to read. It is the one place that decides.
func exitCode(err error, stderr io.Writer) int {
	var ee exitError
	var fe *fleet.Error
	var se *source.Error
	var de discoveryError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "interrupted")
		return exitInterrupted
	case errors.As(err, &de):
		fmt.Fprintf(stderr, "error: discovering the fleet's targets failed; nothing was touched:\n%v\n", de)
		return exitUsage
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "error: fleet file is not valid; nothing was touched:\n%v\n", fe)
		return exitUsage
	case errors.As(err, &se):
		fmt.Fprintf(stderr, "error: migration set is not valid; nothing was touched:\n%v\n", se)
		return exitUsage
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	return exitUsage
}
