package rpcqtest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// counter serves Counter.Set, an idempotent method, and counts its runs.
func counter(t *testing.T, b *brokertest.Server) *atomic.Int64 {
	t.Helper()
	var runs atomic.Int64
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{
		Name:   "Counter",
		Modes:  map[string]rpcq.Mode{"Set": rpcq.AtLeastOnce},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	rpcq.HandleFunc(srv, "Set", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		return n, nil
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &runs
}

// newClient makes a client on its own connection, closed at the end of t.
func newClient(t *testing.T, b *brokertest.Server, cfg rpcq.ClientConfig) *rpcq.Client {
	t.Helper()
	c, err := rpcq.NewClient(b.Connect(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAtLeastOnceThroughLoss(t *testing.T) {
	b := brokertest.Start(t)
	runs := counter(t, b)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{
		DropRequests: 0.1, DropReplies: 0.1, Duplicate: 0.05, MaxDelay: 2 * time.Millisecond, Seed: 7,
	})
	c := newClient(t, b, rpcq.ClientConfig{
		SubjectPrefix: relay.Prefix(),
		RetryInterval: 20 * time.Millisecond,
		Modes:         map[string]rpcq.Mode{"Counter.Set": rpcq.AtLeastOnce},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const clients, calls = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients*calls)
	for g := range clients {
		wg.Go(func() {
			for i := range calls {
				var got int
				if err := c.Call(ctx, "Counter.Set", g*1000+i, &got); err != nil {
					errs <- err
				} else if got != g*1000+i {
					errs <- errors.New("wrong reply")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	relay.Close() // sends what it still delays
	st := relay.Stats()
	if st.DroppedRequests == 0 || st.DroppedReplies == 0 || st.Duplicated == 0 {
		t.Errorf("faults did not happen: %+v", st)
	}
	// Every forwarded request runs: every call at least once, and lost
	// replies and duplicates some twice.
	forwarded := int64(st.Requests - st.DroppedRequests + st.Duplicated)
	brokertest.WaitFor(t, 10*time.Second, func() bool { return runs.Load() == forwarded }, "every forwarded request to run")
	if forwarded < clients*calls {
		t.Errorf("%d requests forwarded for %d calls", forwarded, clients*calls)
	}
}

func TestAtMostOnceLostRequestTimesOut(t *testing.T) {
	b := brokertest.Start(t)
	runs := counter(t, b)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{DropRequests: 1})
	c := newClient(t, b, rpcq.ClientConfig{SubjectPrefix: relay.Prefix()})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// Counter.Set is published as at-least-once; this call asks for less.
	if err := c.Call(ctx, "Counter.Set", 1, nil, rpcq.WithMode(rpcq.AtMostOnce)); !errors.Is(err, rpcq.ErrTimeout) {
		t.Fatalf("at-most-once through a lost request = %v, want a timeout", err)
	}
	if runs.Load() != 0 || relay.Stats().Requests != 1 {
		t.Errorf("runs %d, relay %+v; want 0 runs of 1 request", runs.Load(), relay.Stats())
	}
}

func TestReplay(t *testing.T) {
	b := brokertest.Start(t)
	runs := counter(t, b)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := newClient(t, b, rpcq.ClientConfig{SubjectPrefix: relay.Prefix()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Call(ctx, "Counter.Set", 5, nil); err != nil {
		t.Fatal(err)
	}
	rec := relay.Recorded()
	if len(rec) != 1 || rec[0].Subject != "rpcq.Counter.Set" {
		t.Fatalf("recorded %+v", rec)
	}
	if err := relay.Replay(rec[0]); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return runs.Load() == 2 }, "the replayed request to run")
	if st := relay.Stats(); st.Replayed != 1 {
		t.Errorf("Stats().Replayed = %d, want 1", st.Replayed)
	}
}

func TestNoRespondersPassThrough(t *testing.T) {
	b := brokertest.Start(t)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := newClient(t, b, rpcq.ClientConfig{SubjectPrefix: relay.Prefix()})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Call(ctx, "Nobody.Home", 1, nil); !errors.Is(err, rpcq.ErrNoResponders) {
		t.Fatalf("call through the relay to no service = %v, want ErrNoResponders", err)
	}
}

func TestBadConfig(t *testing.T) {
	b := brokertest.Start(t)
	if _, err := rpcqtest.New(b.Connect(), rpcqtest.Config{DropReplies: 1.5}); err == nil {
		t.Error("New with DropReplies 1.5 succeeded")
	}
}

// TestModeFromServiceMetadata: a client told nothing of Counter.Set's mode
// learns from the service that it is at-least-once, and so retries it
// through a relay that loses half the requests.
func TestModeFromServiceMetadata(t *testing.T) {
	b := brokertest.Start(t)
	counter(t, b)
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{DropRequests: 0.5, Seed: 3})
	c := newClient(t, b, rpcq.ClientConfig{SubjectPrefix: relay.Prefix(), RetryInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 20 {
		if err := c.Call(ctx, "Counter.Set", i, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if relay.Stats().DroppedRequests == 0 {
		t.Error("no request was dropped")
	}
}
