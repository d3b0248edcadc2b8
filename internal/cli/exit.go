package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// The exit statuses of every Drover binary.
const (
	ExitOK          = 0   // success, or -h and --version
	ExitFailure     = 1   // a failure at run time
	ExitUsage       = 2   // a bad flag or argument
	ExitInterrupted = 130 // SIGINT or SIGTERM ended a command before it finished
)

// ErrVersion is returned by Parse when --version was given: Main prints the
// version and exits 0.
var ErrVersion = errors.New("version requested")

// UsageError is a mistake in how a binary was invoked: exit status 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// Usagef formats a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// PanicError is a panic of a binary's run function, recovered by Main.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("internal error: %v", e.Value) }

// Exit maps what a run function returned to the binary's exit status and
// the one line to print on stderr (none for success). interrupted tells
// whether a signal ended the run's context: an error after it is an
// interruption, not a failure. A package prefix in trim ("kv: ") is left
// out of the line, so that it does not read "kvserver: kv: ...".
func Exit(name string, err error, interrupted bool, trim ...string) (int, string) {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, ErrVersion):
		return ExitOK, ""
	case interrupted:
		return ExitInterrupted, name + ": interrupted"
	case errors.As(err, &usage):
		return ExitUsage, name + ": " + trimmed(err, trim)
	}
	return ExitFailure, name + ": " + trimmed(err, trim)
}

func trimmed(err error, trim []string) string {
	msg := err.Error()
	for _, prefix := range trim {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return strings.ReplaceAll(msg, "\n", " ")
}
