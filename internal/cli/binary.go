package cli

import (
	"flag"
	"io"
	"log/slog"
)

// Binary is the flag set of a long-running binary that talks to NATS: the
// connection flags, the log flags and --version, beside its own.
type Binary struct {
	*flag.FlagSet
	NATS   NATSFlags
	Log    LogFlags
	stderr io.Writer
}

// NewBinary returns name's flag set, with the shared flags registered and
// a -h page that opens with the description.
func NewBinary(name, synopsis, description string, stderr io.Writer) *Binary {
	b := &Binary{FlagSet: NewFlagSet(name, synopsis, description, stderr), stderr: stderr}
	b.NATS.Register(b.FlagSet)
	b.NATS.RegisterWait(b.FlagSet)
	b.Log.Register(b.FlagSet)
	return b
}

// Parse parses args, which may hold no positional argument, and returns
// the logger the log flags describe.
func (b *Binary) Parse(args []string) (*slog.Logger, error) {
	pos, err := Parse(b.FlagSet, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, Usagef("unexpected argument %q", pos[0])
	}
	log, err := b.Log.Logger(b.stderr)
	if err != nil {
		return nil, &UsageError{err.Error()}
	}
	return log, nil
}
