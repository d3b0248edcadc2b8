package cli

import (
	"context"
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
