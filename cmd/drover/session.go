package main

import (
	"context"
	"time"

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

// connect dials NATS, with the master's calls made as conn.Caller.
func connect(ctx context.Context, conn *cli.NATSFlags) (*session, error) {
	caller, err := conn.Caller()
	if err != nil {
		return nil, usagef("%v", err)
	}
	nc, err := dial(ctx, conn, "drover")
	if err != nil {
		return nil, err
	}
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		nc.Close()
		return nil, err
	}
	s := &session{nc: nc, client: client, master: &masterClient{nc: nc, client: client}}
	if caller != "" {
		if s.master.client, err = rpcq.NewClient(nc, rpcq.ClientConfig{Caller: caller}); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// bindWait bounds how long a command tries again to open the deployment
// while JetStream does not answer for a moment: a cluster that has just
// formed, or is electing a stream's leader.
const bindWait = 15 * time.Second

// bind opens the deployment's streams and buckets, as the master made them.
// With no deployment it fails at once; a JetStream that does not answer
// for a moment is asked again, within bindWait.
func (s *session) bind(ctx context.Context) (*mr.Store, error) {
	if s.store != nil {
		return s.store, nil
	}
	deadline := time.Now().Add(bindWait)
	store, err := mr.Bind(ctx, s.nc)
	for wait := 100 * time.Millisecond; mr.Retryable(ctx, err) && time.Now().Before(deadline); wait = min(2*wait, time.Second) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		store, err = mr.Bind(ctx, s.nc)
	}
	if err != nil {
		return nil, err
	}
	s.store = store
	return store, nil
}

func (s *session) close() {
	if s.master.client != s.client {
		s.master.client.Close()
	}
	s.client.Close()
	s.nc.Close()
}
