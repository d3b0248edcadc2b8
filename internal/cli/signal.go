package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext is ctx ended by SIGINT or SIGTERM. A second signal is left
// to the default handler, so a user can still force an exit.
func SignalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// RunFunc is a binary's body: main's arguments and streams in, an error
// out. A long-running binary returns nil when a signal stops it cleanly.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs a binary's run function with a context that SIGINT and SIGTERM
// end, prints its error as one line prefixed by the binary's name, and
// exits with the status Exit gives. A panic of run is an internal error:
// its line and stack go to stderr, and the status is 1.
func Main(name string, run RunFunc, trim ...string) {
	ctx, stop := SignalContext(context.Background())
	err := runRecovering(ctx, run)
	interrupted := ctx.Err() != nil
	stop()
	if errors.Is(err, ErrVersion) {
		fmt.Fprintln(os.Stdout, Version(name))
	}
	code, line := Exit(name, err, interrupted, trim...)
	if line != "" {
		fmt.Fprintln(os.Stderr, line)
	}
	var p *PanicError
	if errors.As(err, &p) {
		os.Stderr.Write(p.Stack)
	}
	os.Exit(code)
}

func runRecovering(ctx context.Context, run RunFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: stack()}
		}
	}()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
