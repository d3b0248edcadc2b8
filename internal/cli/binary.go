package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// Binary is the flag set of a long-running binary that talks to NATS: the
// connection flags and the log flags, beside its own.
type Binary struct {
	*flag.FlagSet
	NATS   NATSFlags
	Log    LogFlags
	stderr io.Writer
}

// NewBinary returns name's flag set, with the shared flags registered.
func NewBinary(name string, stderr io.Writer) *Binary {
	b := &Binary{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), stderr: stderr}
	b.SetOutput(stderr)
	b.NATS.Register(b.FlagSet)
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
		return nil, fmt.Errorf("unexpected argument %q", pos[0])
	}
	return b.Log.Logger(b.stderr)
}
