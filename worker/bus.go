package worker

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// errBusLost ends the JetStream calls in flight when the worker's
// connection to NATS is lost. A call sent to a server that then restarts,
// or whose cluster node dies, may never be answered, and would hold its
// task until its own time-out (5 s for each read of an object); ended at
// once, the attempt is handed back (busFailed) and runs again once the
// connection is back.
var errBusLost = fmt.Errorf("worker: connection to NATS lost: %w", nats.ErrDisconnected)

// bus follows the worker's connection: each epoch lasts while it is up.
type bus struct {
	mu    sync.Mutex
	epoch context.Context
	end   context.CancelCauseFunc
}

// watchBus follows nc's status until stop is called.
func watchBus(nc *nats.Conn) (b *bus, stop func()) {
	b = &bus{}
	b.epoch, b.end = context.WithCancelCause(context.Background())
	changes := nc.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for st := range changes {
			b.mu.Lock()
			if st != nats.CONNECTED {
				b.end(errBusLost)
			} else if b.epoch.Err() != nil {
				b.epoch, b.end = context.WithCancelCause(context.Background())
			}
			b.mu.Unlock()
		}
	}()
	return b, func() {
		nc.RemoveStatusListener(changes)
		<-done
	}
}

// context is ctx without its deadline, still cancelled with it, that also
// ends when the connection is lost. An object store call whose context
// has no deadline bounds each step (a chunk read, a chunk's
// acknowledgement) rather than waiting for the whole attempt's deadline.
// A nil bus, as in a worker that does not Run, follows no connection.
func (b *bus) context(ctx context.Context) (context.Context, func()) {
	bctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stopCtx := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	stopEpoch := func() bool { return true }
	if b != nil {
		b.mu.Lock()
		epoch := b.epoch
		b.mu.Unlock()
		stopEpoch = context.AfterFunc(epoch, func() { cancel(errBusLost) })
	}
	return bctx, func() {
		stopCtx()
		stopEpoch()
		cancel(nil)
	}
}
