package integration

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// TestKVServerKilledMidStream: kvserver is killed with SIGKILL and
// restarted, several times, while clients keep appending and retrying. No
// acknowledged Append is lost, none is applied twice, and the history is
// linearizable.
func TestKVServerKilledMidStream(t *testing.T) {
	url := startBroker(t)
	data := t.TempDir()
	startKV := func() *process { return start(t, "kvserver", "--data", data, "--nats", url, "--log-level", "warn") }
	server := startKV()

	const clients, ops, rounds = 4, 60, 4
	ctx := timeout(t, 3*time.Minute)
	var (
		mu        sync.Mutex
		history   []porcupine.Operation
		acked     atomic.Int64
		wg        sync.WaitGroup
		clientsOK atomic.Int64
	)
	for i := range clients {
		nc, err := nats.Connect(url, nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{RetryInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() {
			for j := range ops {
				in := rpcqtest.KVInput{Op: "append", Key: fmt.Sprintf("k%d", i%2), Value: fmt.Sprintf("c%d.%d;", i, j)}
				if j%5 == 4 {
					in = rpcqtest.KVInput{Op: "get", Key: in.Key}
				}
				begin := time.Now().UnixNano()
				var out string
				var err error
				if in.Op == "get" {
					out, err = c.Get(ctx, in.Key)
				} else {
					out, err = c.Append(ctx, in.Key, in.Value)
				}
				if err != nil {
					t.Errorf("client %d op %d (%s): %v", i, j, in.Op, err)
					return
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: i, Input: in, Output: out, Call: begin, Return: time.Now().UnixNano()})
				mu.Unlock()
				acked.Add(1)
			}
			clientsOK.Add(1)
		})
	}

	for round := 1; round <= rounds; round++ {
		want := int64(round * clients * ops / (rounds + 1))
		brokertest.WaitFor(t, time.Minute, func() bool { return acked.Load() >= want || clientsOK.Load() == clients },
			"round %d: %d acknowledged operations (kvserver output: %s)", round, want, server)
		server.kill()
		server = startKV()
	}
	wg.Wait()
	if t.Failed() {
		t.Fatalf("kvserver output:\n%s", server)
	}

	// Every acknowledged Append is there exactly once, in its client's order.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	check, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	for _, key := range []string{"k0", "k1"} {
		value, err := check.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range clients {
			if fmt.Sprintf("k%d", i%2) != key {
				continue
			}
			last := -1
			for j := range ops {
				if j%5 == 4 {
					continue
				}
				tok := fmt.Sprintf("c%d.%d;", i, j)
				if n := strings.Count(value, tok); n != 1 {
					t.Errorf("%s holds %s %d times", key, tok, n)
				}
				at := strings.Index(value, tok)
				if at < last {
					t.Errorf("%s: %s out of order", key, tok)
				}
				last = at
			}
		}
	}
	if res, _ := porcupine.CheckOperationsVerbose(rpcqtest.KVModel, history, time.Minute); res != porcupine.Ok {
		t.Errorf("history of %d operations across %d kills is not linearizable (%v)", len(history), rounds, res)
	}
}
