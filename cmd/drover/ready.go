package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/internal/cli"
)

// runReady waits until the broker answers and, with --service, until each
// named service does: what a script runs after starting the daemons in the
// background and before its first command.
func runReady(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("ready", stderr, "[--service NAME]... [flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	var services stringList
	fs.Var(&services, "service", "also wait for this micro service to answer (repeat for more), such as Master")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("ready takes no arguments, got %q", pos)
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn.Wait = *timeout
	nc, err := conn.ConnectWait(ctx, "drover ready", slog.New(slog.DiscardHandler))
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no NATS server answered at %s within %v", cli.Redact(conn.ServerURL()), *timeout)
	}
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, name := range services {
		if err := waitService(ctx, nc, name); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "ready: %s%s\n", cli.Redact(nc.ConnectedUrlRedacted()), suffix(", services ", strings.Join(services, ", ")))
	return nil
}

// errNoService is waitService's error when ctx's deadline passed first.
var errNoService = errors.New("no responders")

// waitService pings the micro service name until an instance answers or
// ctx ends; a deadline that passes is errNoService.
func waitService(ctx context.Context, nc *nats.Conn, name string) error {
	subject, err := micro.ControlSubject(micro.PingVerb, name, "")
	if err != nil {
		return usagef("service name %q: %v", name, err)
	}
	for {
		if _, err := nc.RequestWithContext(ctx, subject, nil); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w on rpcq.%s.* at %s", errNoService, name, cli.Redact(nc.ConnectedUrlRedacted()))
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
