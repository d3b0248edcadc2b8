// Package brokertest starts embedded NATS brokers for tests.
//
// Every test in the project gets its broker here: Start(t) listens on a
// random loopback port with its store under t.TempDir() and is closed by
// t.Cleanup. Restart stops and starts it again on the same port and store, so
// that connected clients reconnect to the same data. WaitFor polls a
// condition with a deadline; tests never sleep to wait.
package brokertest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker"
)

// Server is a broker owned by one test.
type Server struct {
	*broker.Broker
	t   testing.TB
	cfg broker.Config
}

// Start runs a broker for t. cfg, when given, is used as it is except that a
// zero Port becomes broker.RandomPort and an empty StoreDir a fresh
// directory under t.TempDir(). Failure to start fails the test.
func Start(t testing.TB, cfg ...broker.Config) *Server {
	t.Helper()
	var c broker.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	if c.Port == 0 {
		c.Port = broker.RandomPort
	}
	if c.StoreDir == "" {
		c.StoreDir = t.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{t: t, cfg: c}
	s.start()
	t.Cleanup(func() { s.Close() })
	return s
}

func (s *Server) start() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, s.cfg)
	if err != nil {
		s.t.Fatalf("brokertest: start: %v", err)
	}
	s.Broker = b
	// A restart must come back where clients expect it.
	s.cfg.Port = b.Port()
}

// Restart stops the broker and starts it again on the same port with the
// same store. Clients with reconnection enabled (the nats.go default)
// reconnect by themselves.
func (s *Server) Restart() {
	s.t.Helper()
	s.Close()
	s.start()
}

// Connect dials the broker, fails t on error, and drains the connection at
// cleanup. It retries reconnection forever so that Restart is survived.
func (s *Server) Connect(opts ...nats.Option) *nats.Conn {
	s.t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond)}, opts...)
	nc, err := s.Broker.Connect(opts...)
	if err != nil {
		s.t.Fatalf("brokertest: %v", err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// WaitFor polls cond every few milliseconds until it returns true, and fails
// t with the message made of msgAndArgs if that has not happened within
// timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			msg := "condition"
			if len(msgAndArgs) > 0 {
				msg = fmt.Sprintf(fmt.Sprint(msgAndArgs[0]), msgAndArgs[1:]...)
			}
			t.Fatalf("brokertest: %s not met within %v", msg, timeout)
			return
		}
		time.Sleep(wait)
	}
}
