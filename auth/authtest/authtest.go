// Package authtest starts an embedded broker whose only users are
// Drover's roles, with the permissions package auth grants them, for
// tests that check a component needs no more than its role:
//
//	s := authtest.Start(t)
//	nc := s.Connect(auth.Worker) // fails t on any permission violation
//	store, err := mr.Bind(ctx, nc)
//
// A test that expects a refusal passes its own nats.ErrorHandler to
// Connect, which then replaces the one that fails t.
package authtest

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
)

// Server is a brokertest server on the configuration auth.Init writes.
type Server struct {
	*brokertest.Server
	t   testing.TB
	dir string
}

// Start runs a broker for t with one nkey user per role, in the account
// auth.DefaultAccount; cfg, when given, is brokertest.Start's, but for
// its ConfigFile.
func Start(t testing.TB, cfg ...broker.Config) *Server {
	t.Helper()
	dir := t.TempDir()
	if _, err := auth.Init(auth.InitConfig{Dir: dir}); err != nil {
		t.Fatalf("authtest: %v", err)
	}
	var c broker.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.ConfigFile = filepath.Join(dir, auth.BrokerFile)
	return &Server{Server: brokertest.Start(t, c), t: t, dir: dir}
}

// Seed is the path of role's seed file, for a binary's --nkey.
func (s *Server) Seed(role auth.Role) string { return filepath.Join(s.dir, auth.SeedFile(role)) }

// Connect connects as role, as brokertest.Server.Connect does. A
// permission violation on the connection fails the test, unless opts
// hold an error handler of the caller's.
func (s *Server) Connect(role auth.Role, opts ...nats.Option) *nats.Conn {
	t := s.t
	t.Helper()
	nkey, err := nats.NkeyOptionFromSeed(s.Seed(role))
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	strict := nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("authtest: %s was refused: %v", role, err)
		}
	})
	// The user's own inboxes, the only ones its permissions let it read.
	inbox := func(o *nats.Options) error { return nats.CustomInboxPrefix(auth.InboxPrefix(o.Nkey))(o) }
	return s.Server.Connect(append([]nats.Option{nkey, inbox, strict}, opts...)...)
}
