package tasks

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
)

// waitTimeout bounds every wait of these tests: generous, for a machine
// whose cores are shared.
const waitTimeout = 20 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// bus is a broker for one test and a client of the task queue on it.
type bus struct {
	t      *testing.T
	broker *brokertest.Server
	client *Client
}

func newBus(t *testing.T) *bus {
	t.Helper()
	b := brokertest.Start(t)
	return &bus{t: t, broker: b, client: newClient(t, b)}
}

// js is a JetStream context on a new connection to the broker.
func (b *bus) js() jetstream.JetStream {
	b.t.Helper()
	return jsOn(b.t, b.broker.Connect())
}

func jsOn(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// newClient is a client on a new connection to b.
func newClient(t *testing.T, b *brokertest.Server) *Client {
	t.Helper()
	c, err := NewClient(ctx(t), jsOn(t, b.Connect()), ClientConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ctx is a context that ends with the test, or after waitTimeout.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

// running is a Server running in the background of a test.
type running struct {
	*Server
	nc   *nats.Conn
	stop func() // ends Run and waits for it
}

// serve runs a server with cfg and handlers on a connection of its own
// until the test ends or stop is called.
func (b *bus) serve(cfg Config, handlers map[string]Handler) *running {
	b.t.Helper()
	nc := b.broker.Connect()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := NewServer(jsOn(b.t, nc), cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	for typ, h := range handlers {
		s.Handle(typ, h)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					b.t.Errorf("Run: %v", err)
				}
			case <-time.After(waitTimeout):
				b.t.Errorf("Run did not return within %v of its context's end", waitTimeout)
			}
		})
	}
	b.t.Cleanup(stop)
	b.waitConsumers(cfg)
	return &running{Server: s, nc: nc, stop: stop}
}

// waitConsumers waits until the consumers of cfg's queues exist, so that a
// test enqueues to a queue that is served.
func (b *bus) waitConsumers(cfg Config) {
	b.t.Helper()
	queues := cfg.Queues
	if len(queues) == 0 {
		queues = map[string]int{DefaultQueue: 1}
	}
	for q := range queues {
		brokertest.WaitFor(b.t, waitTimeout, func() bool {
			_, err := b.client.st.queue.Consumer(context.Background(), ConsumerName(q))
			return err == nil
		}, "consumer of queue %s", q)
	}
}

// enqueue enqueues a task of typ with payload v and opts, failing the
// test on error.
func (b *bus) enqueue(typ string, v any, opts ...Option) *TaskInfo {
	b.t.Helper()
	task, err := NewTask(typ, v)
	if err != nil {
		b.t.Fatal(err)
	}
	ti, err := b.client.Enqueue(ctx(b.t), task, opts...)
	if err != nil {
		b.t.Fatalf("Enqueue: %v", err)
	}
	return ti
}

// waitState waits until task id is in state, and returns it.
func (b *bus) waitState(id string, state State) *TaskInfo {
	b.t.Helper()
	var ti *TaskInfo
	brokertest.WaitFor(b.t, waitTimeout, func() bool {
		var err error
		ti, err = b.client.Inspect(context.Background(), id)
		return err == nil && ti.State == state
	}, "task %s %s", id, state)
	return ti
}

// events collects what handlers saw, for assertions.
type events struct {
	mu     sync.Mutex
	starts map[string][]time.Time // by task ID
}

func newEvents() *events { return &events{starts: map[string][]time.Time{}} }

func (e *events) start(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.starts[id] = append(e.starts[id], time.Now())
}

func (e *events) count(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.starts[id])
}

func (e *events) at(id string, n int) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts[id][n]
}

func brokerWait(t *testing.T, cond func() bool, what string) {
	t.Helper()
	brokertest.WaitFor(t, waitTimeout, cond, what)
}
