package rpcq_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// barrierTable is a duplicate table standing for one that waits on I/O:
// each Begin waits until n calls have begun, then lets its call
// run, or answers it with verdict if set.
type barrierTable struct {
	n       int
	verdict rpcq.Verdict

	mu       sync.Mutex
	begun    int
	all      chan struct{} // closed when n calls have begun
	finished atomic.Int64
}

func newBarrierTable(n int) *barrierTable {
	return &barrierTable{n: n, all: make(chan struct{})}
}

func (t *barrierTable) Begin(ctx context.Context, id rpcq.RequestID, ack uint64, now time.Time) (rpcq.Verdict, rpcq.Reply, <-chan struct{}, error) {
	t.mu.Lock()
	t.begun++
	if t.begun == t.n {
		close(t.all)
	}
	t.mu.Unlock()
	select {
	case <-t.all:
		return t.verdict, rpcq.Reply{}, nil, nil
	case <-ctx.Done():
		return 0, rpcq.Reply{}, nil, ctx.Err()
	}
}

func (t *barrierTable) Finish(ctx context.Context, id rpcq.RequestID, reply rpcq.Reply) error {
	t.finished.Add(1)
	return nil
}

// concurrencyProbe counts the handlers running at once.
type concurrencyProbe struct {
	running, most atomic.Int64
}

func (p *concurrencyProbe) Twice(ctx context.Context, x int) (int, error) {
	n := p.running.Add(1)
	defer p.running.Add(-1)
	for {
		most := p.most.Load()
		if n <= most || p.most.CompareAndSwap(most, n) {
			break
		}
	}
	return 2 * x, nil
}

func serveProbe(t *testing.T, b *brokertest.Server, table rpcq.Table, cfg rpcq.ServerConfig) *concurrencyProbe {
	t.Helper()
	cfg.Name, cfg.Logger, cfg.Table = "Probe", quiet(), rpcq.WaitsOnIO(table)
	cfg.Modes = map[string]rpcq.Mode{"Twice": rpcq.ExactlyOnce}
	srv, err := rpcq.NewServer(b.Connect(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &concurrencyProbe{}
	if err := rpcq.HandleFunc(srv, "Twice", p.Twice); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return p
}

// TestTableWaitsOverlap: calls through a table that waits on I/O wait on
// it together, more of them than Concurrency, while their handlers still
// run at most Concurrency at once.
func TestTableWaitsOverlap(t *testing.T) {
	const calls = 8
	b := brokertest.Start(t)
	table := newBarrierTable(calls)
	probe := serveProbe(t, b, table, rpcq.ServerConfig{Concurrency: 1, TableWaits: calls})
	c := client(t, b.Connect(), rpcq.ClientConfig{Timeout: 20 * time.Second})
	ctx := timeout(t, 30*time.Second)

	done := make(chan *rpcq.Call, calls)
	replies := make([]int, calls)
	for i := range calls {
		c.Go(ctx, "Probe.Twice", i, &replies[i], done)
	}
	for range calls {
		if call := <-done; call.Error != nil {
			t.Fatalf("Probe.Twice: %v (the table's Begins did not overlap)", call.Error)
		}
	}
	for i, got := range replies {
		if got != 2*i {
			t.Errorf("Probe.Twice(%d) = %d, want %d", i, got, 2*i)
		}
	}
	if n := table.finished.Load(); n != calls {
		t.Errorf("replies saved = %d, want %d", n, calls)
	}
	if most := probe.most.Load(); most != 1 {
		t.Errorf("handlers running at once = %d, want at most Concurrency (1)", most)
	}
}

// TestTableWaitsErrorReply: a call answered by the table, off its
// endpoint's subscription, reaches its caller with its code.
func TestTableWaitsErrorReply(t *testing.T) {
	b := brokertest.Start(t)
	table := newBarrierTable(1)
	table.verdict = rpcq.Forgotten
	probe := serveProbe(t, b, table, rpcq.ServerConfig{})
	c := client(t, b.Connect(), rpcq.ClientConfig{Timeout: 20 * time.Second})

	var reply int
	err := c.Call(timeout(t, 30*time.Second), "Probe.Twice", 1, &reply)
	var re *rpcq.RemoteError
	if !errors.As(err, &re) || re.Code != rpcq.CodeOutcomeUnknown {
		t.Fatalf("Call of a forgotten call = %v, want a RemoteError with code %d", err, rpcq.CodeOutcomeUnknown)
	}
	if most := probe.most.Load(); most != 0 {
		t.Errorf("handlers run = %d, want 0", most)
	}
}

func TestTableWaitsNegative(t *testing.T) {
	b := brokertest.Start(t)
	_, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: "Probe", TableWaits: -1})
	if !errors.Is(err, rpcq.ErrInvalidConfig) {
		t.Errorf("NewServer with TableWaits -1 = %v, want ErrInvalidConfig", err)
	}
}
