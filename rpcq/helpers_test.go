package rpcq_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// Arith is a receiver with every supported method shape.
type Arith struct {
	calls   atomic.Int64
	release chan struct{} // Slow waits on it
	entered chan struct{} // Slow signals here when it starts
}

type Args struct{ A, B int }
type Quotient struct{ Quo, Rem int }

func (t *Arith) Multiply(args Args, reply *int) error {
	t.calls.Add(1)
	*reply = args.A * args.B
	return nil
}

func (t *Arith) Divide(ctx context.Context, args *Args, quo *Quotient) error {
	t.calls.Add(1)
	if args.B == 0 {
		return rpcq.Errorf(rpcq.CodeBadRequest, "divide by zero")
	}
	quo.Quo, quo.Rem = args.A/args.B, args.A%args.B
	return nil
}

func (t *Arith) Fail(args Args, reply *int) error {
	t.calls.Add(1)
	return errString("plain failure")
}

func (t *Arith) Panic(args Args, reply *int) error {
	t.calls.Add(1)
	var m map[string]int
	m["boom"] = 1 // nil map write
	return nil
}

// Slow blocks until released or its context ends, and reports its deadline.
func (t *Arith) Slow(ctx context.Context, args Args, left *time.Duration) error {
	t.calls.Add(1)
	if t.entered != nil {
		t.entered <- struct{}{}
	}
	if d, ok := ctx.Deadline(); ok {
		*left = time.Until(d)
	}
	select {
	case <-t.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NotAMethod has an unsupported shape and must be skipped.
func (t *Arith) NotAMethod(x int) int { return x }

type errString string

func (e errString) Error() string { return string(e) }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serve starts service "Arith" on its own connection.
func serve(t *testing.T, b *brokertest.Server, rcvr *Arith, cfg rpcq.ServerConfig) *rpcq.Server {
	t.Helper()
	cfg.Name = "Arith"
	cfg.Logger = quiet()
	srv, err := rpcq.NewServer(b.Connect(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(rcvr); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

func client(t testing.TB, nc *nats.Conn, cfg rpcq.ClientConfig) *rpcq.Client {
	t.Helper()
	c, err := rpcq.NewClient(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }
