package timesvc_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serve starts a time server on its own connection to b, reading clock,
// and shuts it down at cleanup.
func serve(t testing.TB, b *brokertest.Server, clock func() time.Time) *rpcq.Server {
	t.Helper()
	srv, err := timesvc.Serve(b.Connect(), timesvc.Config{Clock: clock, Logger: quiet()})
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// client is an rpcq client on a connection of its own, closed at cleanup.
func client(t testing.TB, nc *nats.Conn) *rpcq.Client {
	t.Helper()
	c, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// skewed is time.Now moved by skew: a server clock that is off by a known
// amount, with a monotonic reading as time.Now's.
func skewed(skew time.Duration) func() time.Time {
	return func() time.Time { return time.Now().Add(skew) }
}

// manualClock is a local clock that moves only when told to. Its readings
// have no monotonic component, so Sub uses the wall times it is set to.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock {
	return &manualClock{t: time.Date(2026, 11, 21, 20, 31, 5, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// serverOf is a server clock that reads local plus a skew the test can
// change between syncs. With a manualClock as local, every exchange has
// RTT 0 and so bound 0: the Clock's arithmetic is then exact.
type serverOf struct {
	local *manualClock
	skew  atomic.Int64
}

func (s *serverOf) Now() time.Time { return s.local.Now().Add(time.Duration(s.skew.Load())) }

func (s *serverOf) setSkew(d time.Duration) { s.skew.Store(int64(d)) }
