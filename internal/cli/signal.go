package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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

// Main runs a binary's run function with a context that SIGINT and SIGTERM
// end, and exits: 0, or 2 after printing the error as one line prefixed by
// the binary's name. A package prefix in trim ("kv: ") is left out, so that
// the line does not read "kvserver: kv: ...".
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error, trim ...string) {
	ctx, stop := SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	msg := err.Error()
	for _, prefix := range trim {
		msg = strings.TrimPrefix(msg, prefix)
	}
	fmt.Fprintln(os.Stderr, name+":", msg)
	os.Exit(2)
}
