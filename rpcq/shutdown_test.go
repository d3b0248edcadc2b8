package rpcq_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// TestShutdownFinishesInFlight: a call running when Shutdown starts
// finishes and is answered; a call queued behind it is answered
// "unavailable" and retried on a replica that is still up; Shutdown returns
// only when both are answered.
func TestShutdownFinishesInFlight(t *testing.T) {
	b := brokertest.Start(t)
	arith := &Arith{entered: make(chan struct{}, 2), release: make(chan struct{})}
	srvNC := b.Connect()
	srv, err := rpcq.NewServer(srvNC, rpcq.ServerConfig{Name: "Arith", Concurrency: 1, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(arith)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	ctx := timeout(t, 20*time.Second)

	running := c.Go(ctx, "Arith.Slow", Args{}, nil, nil)
	<-arith.entered
	delivered := srvNC.Stats().InMsgs
	queued := c.Go(ctx, "Arith.Slow", Args{}, nil, nil) // the same endpoint: it waits its turn
	brokertest.WaitFor(t, 5*time.Second, func() bool { return srvNC.Stats().InMsgs > delivered }, "the second call queued behind the first")

	replica := &Arith{release: make(chan struct{})}
	close(replica.release)
	serve(t, b, replica, rpcq.ServerConfig{})

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v with a call still running", err)
	case <-running.Done:
		t.Fatalf("in-flight call ended early: %v", running.Error)
	case <-time.After(50 * time.Millisecond): // a window for a wrong early return to show
	}

	close(arith.release)
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	<-running.Done
	if running.Error != nil {
		t.Errorf("in-flight call = %v, want success", running.Error)
	}
	<-queued.Done
	if queued.Error != nil {
		t.Fatalf("queued call = %v, want success on the replica", queued.Error)
	}
	if replica.calls.Load() != 1 || arith.calls.Load() != 1 {
		t.Errorf("calls: stopping server %d, replica %d; want 1 and 1", arith.calls.Load(), replica.calls.Load())
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	if err := srv.Start(); !errors.Is(err, rpcq.ErrStarted) {
		t.Errorf("Start after Shutdown = %v, want ErrStarted", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	b := brokertest.Start(t)
	arith := &Arith{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv := serve(t, b, arith, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{})
	call := c.Go(timeout(t, 20*time.Second), "Arith.Slow", Args{}, nil, nil)
	<-arith.entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck call = %v, want DeadlineExceeded", err)
	}
	// The stuck handler's context was cancelled, so it returns and answers.
	<-call.Done
	if call.Error == nil {
		t.Error("call cut off by Shutdown succeeded")
	}
}
