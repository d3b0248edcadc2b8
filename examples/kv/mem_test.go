package kv_test

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/rpcq"
)

const (
	kB  = 1000
	MB  = 1000 * kB
	MiB = 1 << 20
)

// TestMemory runs the memory tests of the lecture's key/value lab against
// the server, in a process of its own: after each workload, with its
// clients still alive (their saved replies kept), the server's heap after
// a full collection may have grown by at most the bound since before it.
func TestMemory(t *testing.T) {
	tests := []struct {
		name  string
		bound int64
		run   func(t *testing.T, clients func(n int) []*kv.Client)
	}{
		{"Put 10 MiB, two clients Get it, Put 0", 10 * MiB, func(t *testing.T, clients func(int) []*kv.Client) {
			cs := clients(2)
			if err := cs[0].Put(callCtx(t), "k", strings.Repeat("x", 10*MiB)); err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if v, err := c.Get(callCtx(t), "k"); err != nil || len(v) != 10*MiB {
					t.Fatalf("Get = %d bytes, %v", len(v), err)
				}
			}
			if err := cs[1].Put(callCtx(t), "k", "0"); err != nil {
				t.Fatal(err)
			}
		}},
		{"two clients each Append 10 MiB", 30 * MiB, func(t *testing.T, clients func(int) []*kv.Client) {
			for _, c := range clients(2) {
				if _, err := c.Append(callCtx(t), "k", strings.Repeat("x", 10*MiB)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"one client, 1,000 Appends of 1,000 B", 3 * MB, func(t *testing.T, clients func(int) []*kv.Client) {
			c := clients(1)[0]
			for range 1000 {
				if _, err := c.Append(callCtx(t), "k", strings.Repeat("x", kB)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"100 clients, one 1-byte Append each to a 1 MB value", 3 * MB, func(t *testing.T, clients func(int) []*kv.Client) {
			cs := clients(101)
			if err := cs[100].Put(callCtx(t), "k", strings.Repeat("x", MB)); err != nil {
				t.Fatal(err)
			}
			// 100 MB of replies (each Append answers the old value), under
			// the race detector on a busy machine: what is measured is the
			// heap, so the calls get the time they need.
			appends, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			for _, c := range cs[:100] {
				wg.Go(func() {
					if _, err := c.Append(appends, "k", "y"); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := brokertest.Start(t, broker.Config{MaxPayload: 64 * MiB})
			heap := serveChild(t, b)
			nc := b.Connect()
			var cs []*kv.Client
			clients := func(n int) []*kv.Client {
				for len(cs) < n {
					// Clients slow to resend: what is measured is what the
					// server keeps, not duplicates of calls still in flight,
					// which the race detector makes many.
					c, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{RetryInterval: 2 * time.Second})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					cs = append(cs, c)
				}
				return cs[:n]
			}
			before := heap()
			tt.run(t, clients)
			// Calls answered may still be resent and answered again for a
			// while (under the race detector, seconds), and the connection
			// for large replies lingers for a second: wait for the heap to
			// settle within the bound.
			grown := heap() - before
			for deadline := time.Now().Add(60 * time.Second); grown > tt.bound && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				grown = heap() - before
			}
			t.Logf("server heap grew by %.2f MB (bound %.2f MB)", float64(grown)/MB, float64(tt.bound)/MB)
			if grown > tt.bound {
				t.Errorf("server heap grew by %d bytes, want at most %d", grown, tt.bound)
			}
		})
	}
}

// serveChild runs the server in a process of its own on b, as kvserver
// would be, and returns a function that asks for its heap after a full
// collection.
func serveChild(t *testing.T, b *brokertest.Server) (heap func() int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	cmd.Env = append(os.Environ(), "KV_SERVE_CHILD="+b.ClientURL(), "KV_SERVE_DIR="+t.TempDir())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	nc := b.Connect()
	heap = func() int64 {
		m, err := nc.Request(heapSubject, nil, 10*time.Second)
		if err != nil {
			t.Fatalf("ask the server for its heap: %v", err)
		}
		n, err := strconv.ParseInt(string(m.Data), 10, 64)
		if err != nil {
			t.Fatalf("server heap %q: %v", m.Data, err)
		}
		return n
	}
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		_, err := nc.Request(heapSubject, nil, time.Second)
		return err == nil
	}, "the server to start")
	return heap
}

// heapSubject is where the child server answers its heap.
const heapSubject = "kvtest.heap"

// TestServeChild is the process serveChild starts: the kv service, plus
// the size of its heap after a full collection on heapSubject, which it
// answers only once the service is up.
func TestServeChild(t *testing.T) {
	url := os.Getenv("KV_SERVE_CHILD")
	if url == "" {
		return // run by serveChild only
	}
	s, err := kv.Open(os.Getenv("KV_SERVE_DIR"), kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Serve(nc, rpcq.ExactlyOnce, rpcq.ServerConfig{Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	nc.Subscribe(heapSubject, func(m *nats.Msg) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		m.Respond(strconv.AppendUint(nil, ms.HeapAlloc, 10))
	})
	nc.Flush()
	select {} // until killed
}

// callCtx bounds one call of a memory test: a 10 MiB value sent, stored
// and answered under the race detector on a busy machine takes far longer
// than a call of the other tests, and what is measured is the heap.
func callCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
