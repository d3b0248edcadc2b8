package main

import (
	"context"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// session is a connection to a running deployment. It creates nothing on
// the server: a user with read-only permissions can run every command
// that only reads.
type session struct {
	nc     *nats.Conn
	client *rpcq.Client
	master *masterClient
	store  *mr.Store // bound by bind, for the commands that move data
}

func connect(ctx context.Context, conn *cli.NATSFlags) (*session, error) {
	nc, err := dial(ctx, conn, "drover")
	if err != nil {
		return nil, err
	}
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &session{nc: nc, client: client, master: &masterClient{nc: nc, client: client}}, nil
}

// bind opens the deployment's streams and buckets, as the master made them.
func (s *session) bind(ctx context.Context) (*mr.Store, error) {
	if s.store == nil {
		store, err := mr.Bind(ctx, s.nc)
		if err != nil {
			return nil, err
		}
		s.store = store
	}
	return s.store, nil
}

func (s *session) close() {
	s.client.Close()
	s.nc.Close()
}
