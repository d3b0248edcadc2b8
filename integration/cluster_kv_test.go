package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/internal/testutil"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// kvCallTime bounds each call in TestClusterKVTable: a call still
// unanswered then is left with its outcome unknown. The table keeps its
// default lease, two minutes: a lease shorter than the longest outage
// forgets the clients that waited it out (their calls are then refused
// rpcq.ErrGone, with an outcome unknown).
const kvCallTime = 20 * time.Second

// TestClusterKVTable: the kv example's service served by three replicas
// that share its data, each on a node of its own, with their duplicate
// table in an rpcq.KVTable replicated on the three nodes; six clients,
// two on each node, append unique tokens and read, all the time. The node
// that leads the table's stream stops hard and comes back; then the node
// that leads it next is cut off from its peers and its clients until the
// others have elected a leader and served more calls, and is healed.
// Every Append a client was answered is in the final value exactly once,
// no token is there twice, and the history, with the calls whose outcome
// is unknown left open, is linearizable.
func TestClusterKVTable(t *testing.T) {
	c := brokertest.StartCluster(t, 3)
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replicas' log:\n%s", logs.String())
		}
	})
	data, err := kv.Open(t.TempDir(), kv.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	for i := range c.N() {
		serveKVReplica(t, c, i, data, log)
	}

	h := &kvHistory{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopClients := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopClients()
	const clients = 6
	for i := range clients {
		cl := newClusterKVClient(t, c.ConnectTo(i%c.N()))
		wg.Go(func() { h.client(i, cl, stop) })
	}
	progress := func(when string) {
		t.Helper()
		want := h.answered() + 50
		brokertest.WaitFor(t, time.Minute, func() bool { return h.answered() >= want },
			"50 more answered calls %s", when)
	}

	progress("before the faults")
	stream := "KV_" + rpcq.DefaultKVTableBucket
	js, _ := jetstream.New(c.Connect())
	stopped := streamLeader(t, c, stream)
	c.Stop(stopped)
	t.Logf("stopped node %d, the leader of %s, after %d answered calls", stopped, stream, h.answered())
	progress("with the table's leader stopped")
	c.Restart(stopped)
	progress("after the restart")

	cut := streamLeader(t, c, stream)
	c.Partition(cut)
	t.Logf("partitioned node %d, the leader of %s, after %d answered calls", cut, stream, h.answered())
	brokertest.WaitFor(t, time.Minute, func() bool {
		now := leaderOf(c, js, stream)
		return now >= 0 && now != cut
	}, "a leader of %s on the majority's side", stream)
	progress("during the partition")
	c.Heal(cut)
	c.WaitHealthy(cut)
	progress("after the heal")
	stopClients()

	h.checkFinal(t, newClusterKVClient(t, c.Connect()), clients)
}

// serveKVReplica serves data as kv's service on a connection to node i
// first, with its duplicate table in the cluster's R3 bucket: one replica
// of several that share the data, as replicas share a backend.
func serveKVReplica(t *testing.T, c *brokertest.Cluster, i int, data *kv.Server, log *slog.Logger) {
	t.Helper()
	nc := c.ConnectTo(i)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// A cluster may not place a bucket for a moment: ask again.
	var table *rpcq.KVTable
	for deadline := time.Now().Add(brokertest.Timeout); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		table, err = rpcq.NewKVTable(ctx, js, kv.ServiceName, rpcq.KVTableConfig{Replicas: 3, Logger: log})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the next ask, not a wait for a condition
	}
	srv, err := rpcq.NewServer(nc, rpcq.ServerConfig{
		Name:   kv.ServiceName,
		Modes:  map[string]rpcq.Mode{"Put": rpcq.ExactlyOnce, "Append": rpcq.ExactlyOnce, "Get": rpcq.ReadOnly},
		Table:  table,
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(data); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
}

func newClusterKVClient(t *testing.T, nc *nats.Conn) *kv.Client {
	t.Helper()
	cl, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{RetryInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// kvHistory is what the clients of TestClusterKVTable did and saw.
type kvHistory struct {
	mu       sync.Mutex
	ops      []porcupine.Operation
	appended map[string]bool // every token sent, by whether its Append was answered
	errs     map[string]int  // the calls that failed, by error
	n        int             // calls answered
}

var kvKeys = []string{"k0", "k1", "k2"}

// client makes calls on cl until stop is closed: three Appends of tokens
// of its own, then a Get, each on the next key.
func (h *kvHistory) client(id int, cl *kv.Client, stop <-chan struct{}) {
	for j := 0; ; j++ {
		select {
		case <-stop:
			return
		default:
		}
		in := rpcqtest.KVInput{Op: "append", Key: kvKeys[j%len(kvKeys)], Value: fmt.Sprintf("c%d.%d;", id, j)}
		if j%4 == 3 {
			in = rpcqtest.KVInput{Op: "get", Key: in.Key}
		}
		ctx, cancel := context.WithTimeout(context.Background(), kvCallTime)
		call := time.Now().UnixNano()
		var out string
		var err error
		if in.Op == "get" {
			out, err = cl.Get(ctx, in.Key)
		} else {
			out, err = cl.Append(ctx, in.Key, in.Value)
		}
		ret := time.Now().UnixNano()
		cancel()
		h.record(porcupine.Operation{ClientId: id, Input: in, Output: out, Call: call, Return: ret}, err)
	}
}

// record keeps op. A failed Append may have taken effect or not: it is
// kept open, as porcupine allows. A failed Get did nothing and is left
// out.
func (h *kvHistory) record(op porcupine.Operation, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := op.Input.(rpcqtest.KVInput)
	if h.appended == nil {
		h.appended, h.errs = map[string]bool{}, map[string]int{}
	}
	if in.Op == "append" {
		h.appended[in.Value] = err == nil
	}
	if err != nil {
		h.errs[callError(err)]++
		if in.Op == "get" {
			return
		}
		op.Output, op.Return = nil, math.MaxInt64
	} else {
		h.n++
	}
	h.ops = append(h.ops, op)
}

// callError is err without what differs from call to call.
func callError(err error) string {
	var re *rpcq.RemoteError
	switch {
	case errors.As(err, &re):
		return fmt.Sprintf("rpcq code %d", re.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	}
	return err.Error()
}

func (h *kvHistory) answered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// checkFinal reads every key through cl once the clients have stopped,
// and checks the values and the history.
func (h *kvHistory) checkFinal(t *testing.T, cl *kv.Client, clients int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	open := 0
	for _, op := range h.ops {
		if op.Output == nil {
			open++
		}
	}
	t.Logf("%d calls answered, %d Appends with an unknown outcome; failed calls: %v", h.n, open, h.errs)
	seen := map[string]bool{}
	for _, key := range kvKeys {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		call := time.Now().UnixNano()
		value, err := cl.Get(ctx, key)
		cancel()
		if err != nil {
			t.Fatalf("final Get(%s): %v", key, err)
		}
		h.ops = append(h.ops, porcupine.Operation{ClientId: clients, Input: rpcqtest.KVInput{Op: "get", Key: key}, Output: value, Call: call, Return: time.Now().UnixNano()})
		for tok := range strings.SplitAfterSeq(value, ";") {
			if tok == "" {
				continue
			}
			if _, sent := h.appended[tok]; !sent {
				t.Errorf("%s holds %q, which no client appended", key, tok)
			}
			if seen[tok] {
				t.Errorf("%s holds %s twice", key, tok)
			}
			seen[tok] = true
		}
	}
	for tok, answered := range h.appended {
		if answered && !seen[tok] {
			t.Errorf("the answered Append of %s is lost", tok)
		}
	}
	res, _ := porcupine.CheckOperationsVerbose(rpcqtest.KVModel, h.ops, time.Minute)
	if res != porcupine.Ok {
		t.Errorf("the history of %d operations is not linearizable (%v)", len(h.ops), res)
	}
}

// leaderOf is the index of the node that leads stream, as the node that
// answers js within a second says, or -1.
func leaderOf(c *brokertest.Cluster, js jetstream.JetStream, stream string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return -1
	}
	return c.Index(info.Cluster.Leader)
}
