// Package brokertest starts embedded NATS brokers for tests.
//
// Every test in the project gets its broker here: Start(t) listens on a
// random loopback port with its store under t.TempDir() and is closed by
// t.Cleanup. Restart stops and starts it again on the same port and store, so
// that connected clients reconnect to the same data; it returns once the
// connections made by Server.Connect are back, and WaitReconnected does the
// same for a connection made any other way. WaitFor polls a condition with a
// deadline; tests never sleep to wait.
//
// StartCluster(t, 3) runs a three-node JetStream cluster, each node behind
// TCP proxies this package controls, so that Cluster.Stop (a hard stop),
// Restart, Partition (silent, from peers and clients alike) and Heal act
// on one node as a crash or a network would.
//
// For brokers with authorization or TLS, ConfigFile writes a nats-server
// configuration for broker.Config.ConfigFile, and NewCerts makes a
// certificate authority with server and client certificates at test time;
// pass the client's options (nats.Token, nats.NkeyOptionFromSeed,
// Certs.ClientOptions) to Connect.
package brokertest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker"
)

// Timeout bounds each wait of this package: a start, or a reconnection
// after Restart.
const Timeout = 30 * time.Second

// Server is a broker owned by one test. Connect is safe for concurrent use;
// Restart must not run concurrently with any other method.
type Server struct {
	*broker.Broker
	t   testing.TB
	cfg broker.Config

	mu    sync.Mutex
	conns []*nats.Conn // made by Connect, awaited by Restart
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
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
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
// reconnect by themselves; Restart returns once every open connection made
// by Connect is connected to the new server, and fails t if one is not
// within Timeout.
func (s *Server) Restart() {
	s.t.Helper()
	s.Close()
	s.start()
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	for _, nc := range conns {
		s.waitReconnected(nc)
	}
}

// WaitReconnected waits until nc is connected to the broker as it runs now,
// and fails t if it is not within Timeout or nc is closed.
//
// After Restart, nc.IsConnected() is not that: nc notices that the old
// server closed its socket only when its read loop gets there, and until
// then it reports itself connected. A request sent in that window goes out
// on the dead socket and is lost, so its caller waits out its whole context.
// The server's ID changes with every start; nc reports the new one only
// once it has sent its subscriptions and pending messages to the new
// server, so what it sends from then on reaches the new server, replies
// included.
func (s *Server) WaitReconnected(nc *nats.Conn) {
	s.t.Helper()
	if !s.waitReconnected(nc) {
		s.t.Fatalf("brokertest: connection closed instead of reconnecting to %s", s.ClientURL())
	}
}

// waitReconnected waits until nc is connected to the current server or
// closed (a connection made without reconnection), and reports which.
func (s *Server) waitReconnected(nc *nats.Conn) bool {
	s.t.Helper()
	id := s.Server().ID()
	WaitFor(s.t, Timeout, func() bool {
		return nc.IsClosed() || nc.ConnectedServerId() == id
	}, "reconnection to %s", s.ClientURL())
	return !nc.IsClosed()
}

// Connect dials the broker, fails t on error, and closes the connection at
// cleanup. It retries reconnection forever so that Restart is survived, and
// Restart waits for it to be back.
func (s *Server) Connect(opts ...nats.Option) *nats.Conn {
	s.t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond)}, opts...)
	nc, err := s.Broker.Connect(opts...)
	if err != nil {
		s.t.Fatalf("brokertest: %v", err)
	}
	s.t.Cleanup(nc.Close)
	s.mu.Lock()
	s.conns = append(s.conns, nc)
	s.mu.Unlock()
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

// ConfigFile writes text, a nats-server configuration, to a file under
// t.TempDir() and returns its path, for broker.Config.ConfigFile.
func ConfigFile(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return path
}
