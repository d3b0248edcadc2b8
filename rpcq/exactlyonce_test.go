package rpcq_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// store is a key/value service as the lecture has it: Append returns the
// old value. It counts how often each method really ran.
type store struct {
	mu      sync.Mutex
	data    map[string]string
	appends atomic.Int64
	gets    atomic.Int64
	block   chan struct{} // Append waits on it when not nil
	entered chan struct{}
}

type AppendArgs struct{ Key, Arg string }

func (s *store) Append(ctx context.Context, a AppendArgs, old *string) error {
	s.appends.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*old = s.data[a.Key]
	s.data[a.Key] += a.Arg
	return nil
}

func (s *store) Get(ctx context.Context, key string, value *string) error {
	s.gets.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	*value = s.data[key]
	return nil
}

var storeModes = map[string]rpcq.Mode{"Append": rpcq.ExactlyOnce, "Get": rpcq.ReadOnly}

func serveStore(t *testing.T, b *brokertest.Server, s *store, cfg rpcq.ServerConfig) *rpcq.Server {
	t.Helper()
	if s.data == nil {
		s.data = map[string]string{}
	}
	cfg.Name, cfg.Logger = "KV", quiet()
	if cfg.Modes == nil {
		cfg.Modes = storeModes
	}
	srv, err := rpcq.NewServer(b.Connect(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(s); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

func storeClient(t *testing.T, b *brokertest.Server, relay *rpcqtest.Relay) *rpcq.Client {
	t.Helper()
	cfg := rpcq.ClientConfig{
		RetryInterval: 20 * time.Millisecond,
		Modes:         map[string]rpcq.Mode{"KV.Append": rpcq.ExactlyOnce, "KV.Get": rpcq.ReadOnly},
	}
	if relay != nil {
		cfg.SubjectPrefix = relay.Prefix()
	}
	return client(t, b.Connect(), cfg)
}

// TestExactlyOnceThroughLoss: concurrent clients append through a relay
// that loses 10% of requests and 10% of replies, duplicates and reorders.
// Every Append runs exactly once, in order per client, and the history is
// linearizable.
func TestExactlyOnceThroughLoss(t *testing.T) {
	t.Run("memory table", func(t *testing.T) {
		b := brokertest.Start(t)
		s := &store{}
		checkExactlyOnce(t, b, s, serveStore(t, b, s, rpcq.ServerConfig{Concurrency: 3}))
	})
	t.Run("KV table, two replicas", func(t *testing.T) {
		b := brokertest.Start(t)
		s := &store{}
		// Both replicas share the store, as replicas share a backend;
		// retries and duplicates land on either.
		var replicas []*rpcq.Server
		for range 2 {
			replicas = append(replicas, serveStore(t, b, s, rpcq.ServerConfig{Concurrency: 2, Table: kvTable(t, b)}))
		}
		checkExactlyOnce(t, b, s, replicas...)
	})
}

// kvTable opens the broker's shared duplicate table, as one replica does.
func kvTable(t *testing.T, b *brokertest.Server) *rpcq.KVTable {
	t.Helper()
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	table, err := rpcq.NewKVTable(ctx, js, "KV", rpcq.KVTableConfig{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(table.Close)
	return table
}

func checkExactlyOnce(t *testing.T, b *brokertest.Server, s *store, servers ...*rpcq.Server) {
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{
		DropRequests: 0.1, DropReplies: 0.1, Duplicate: 0.05, MaxDelay: 3 * time.Millisecond, Seed: 42,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const clients, appends = 6, 30
	keys := []string{"x", "y"}
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		wg      sync.WaitGroup
		failed  atomic.Int64
	)
	record := func(client int, in rpcqtest.KVInput, out string, call, ret int64) {
		mu.Lock()
		defer mu.Unlock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
	}
	for i := range clients {
		c := storeClient(t, b, relay)
		wg.Go(func() {
			for j := range appends {
				in := rpcqtest.KVInput{Op: "append", Key: keys[j%len(keys)], Value: fmt.Sprintf("c%d.%d;", i, j)}
				if j%5 == 4 {
					in = rpcqtest.KVInput{Op: "get", Key: in.Key}
				}
				var out string
				start := time.Now().UnixNano()
				var err error
				if in.Op == "get" {
					err = c.Call(ctx, "KV.Get", in.Key, &out)
				} else {
					err = c.Call(ctx, "KV.Append", AppendArgs{in.Key, in.Value}, &out)
				}
				if err != nil {
					t.Errorf("client %d op %d: %v", i, j, err)
					failed.Add(1)
					return
				}
				record(i, in, out, start, time.Now().UnixNano())
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}

	st := relay.Stats()
	if st.DroppedRequests == 0 || st.DroppedReplies == 0 || st.Duplicated == 0 {
		t.Errorf("faults did not happen: %+v", st)
	}
	wantAppends := int64(0)
	for _, op := range history {
		if op.Input.(rpcqtest.KVInput).Op == "append" {
			wantAppends++
		}
	}
	if got := s.appends.Load(); got != wantAppends {
		t.Errorf("Append ran %d times for %d appends", got, wantAppends)
	}
	// Every token once, and each client's in the order it appended them.
	for _, key := range keys {
		value := s.data[key]
		for i := range clients {
			last := -1
			for j := range appends {
				tok := fmt.Sprintf("c%d.%d;", i, j)
				n := strings.Count(value, tok)
				if keys[j%len(keys)] != key || j%5 == 4 {
					continue
				}
				if n != 1 {
					t.Errorf("key %s holds %s %d times", key, tok, n)
				}
				at := strings.Index(value, tok)
				if at < last {
					t.Errorf("key %s: %s out of order", key, tok)
				}
				last = at
			}
		}
	}
	if res, _ := porcupine.CheckOperationsVerbose(rpcqtest.KVModel, history, 30*time.Second); res != porcupine.Ok {
		t.Errorf("history of %d operations is not linearizable (%v)", len(history), res)
	}
	var dups int64
	for _, srv := range servers {
		st := srv.Stats()
		dups += st.Duplicates
		t.Logf("server %+v", st)
	}
	if dups == 0 {
		t.Error("no duplicate was answered from the table")
	}
	t.Logf("relay %+v", st)
}

// TestDuplicateWhileRunning: a duplicate that arrives while the original
// runs waits for it and gets its reply; the method runs once.
func TestDuplicateWhileRunning(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{block: make(chan struct{}), entered: make(chan struct{}, 4)}
	serveStore(t, b, s, rpcq.ServerConfig{Concurrency: 2})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := storeClient(t, b, relay)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var old string
	call := c.Go(ctx, "KV.Append", AppendArgs{"k", "v"}, &old, nil)
	<-s.entered
	if err := relay.Replay(relay.Recorded()[0]); err != nil { // the duplicate
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return relay.Stats().Replayed == 1 }, "the replay")
	close(s.block)
	<-call.Done
	if call.Error != nil {
		t.Fatal(call.Error)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return relay.Stats().Replies >= 2 }, "both answers")
	if n := s.appends.Load(); n != 1 {
		t.Errorf("Append ran %d times, want 1", n)
	}
}

// TestStaleRequests: a request replayed after its client acknowledged it,
// or after the client expired, is refused and never runs again.
func TestStaleRequests(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{}
	srv := serveStore(t, b, s, rpcq.ServerConfig{ClientLease: 200 * time.Millisecond})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	// A client that does not resend while the test waits for an answer:
	// a 410 that answers one of two sends cannot say the other did not
	// run, and fails the call rather than renew it.
	c := client(t, b.Connect(), rpcq.ClientConfig{
		RetryInterval: 5 * time.Second,
		SubjectPrefix: relay.Prefix(),
		Modes:         map[string]rpcq.Mode{"KV.Append": rpcq.ExactlyOnce},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var old string
	for _, arg := range []string{"a", "b"} { // the second acknowledges the first
		if err := c.Call(ctx, "KV.Append", AppendArgs{"k", arg}, &old); err != nil {
			t.Fatal(err)
		}
	}
	first := relay.Recorded()[0]
	raw := b.Connect()
	replay := func() error {
		reply, err := raw.RequestMsg(&nats.Msg{Subject: first.Subject, Header: first.Header, Data: first.Data}, 5*time.Second)
		if err != nil {
			return err
		}
		if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "410" {
			return fmt.Errorf("error code %q (%s), want 410", code, reply.Header.Get(rpcq.HeaderError))
		}
		return nil
	}
	if err := replay(); err != nil {
		t.Errorf("replay below the watermark: %v", err)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return srv.Stats().Clients == 0 }, "the client to expire")
	if err := replay(); err != nil {
		t.Errorf("replay after the client expired: %v", err)
	}
	if n := s.appends.Load(); n != 2 || s.data["k"] != "ab" {
		t.Errorf("Append ran %d times, value %q; want 2 and ab", n, s.data["k"])
	}
	// The expired client's next call still works: it takes a new ID.
	before := c.ID()
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "c"}, &old); err != nil || old != "ab" {
		t.Fatalf("Append after expiry = %q, %v", old, err)
	}
	if c.ID() == before {
		t.Error("the client kept its ID after the server forgot it")
	}
}

// TestRestartRefusesOldRequests: a server restarted with an empty table
// refuses a request recorded before the restart rather than run it again;
// the same client's new calls go on under a new ID.
func TestRestartRefusesOldRequests(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{}
	first := serveStore(t, b, s, rpcq.ServerConfig{})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := storeClient(t, b, relay)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var old string
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "a"}, &old, rpcq.WithMode(rpcq.AtMostOnce)); err != nil {
		t.Fatal(err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	serveStore(t, b, s, rpcq.ServerConfig{}) // a new incarnation, same data

	if err := relay.Replay(relay.Recorded()[0]); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return relay.Stats().Replies >= 2 }, "the replay's answer")
	if n := s.appends.Load(); n != 1 {
		t.Fatalf("Append ran %d times after a replay across a restart, want 1", n)
	}
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "b"}, &old, rpcq.WithMode(rpcq.AtMostOnce)); err != nil || old != "a" {
		t.Fatalf("new call after the restart = %q, %v", old, err)
	}
}

// TestReadOnlyAddsNothing: Gets never enter the duplicate table.
func TestReadOnlyAddsNothing(t *testing.T) {
	b := brokertest.Start(t)
	srv := serveStore(t, b, &store{}, rpcq.ServerConfig{})
	c := storeClient(t, b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 100 {
		var v string
		if err := c.Call(ctx, "KV.Get", "k", &v); err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Stats(); st.Clients != 0 || st.Entries != 0 || st.Executions != 0 {
		t.Errorf("after 100 Gets the table holds %+v, want nothing", st)
	}
}

// TestKVTableSurvivesRestart: with the KV table, a replica restarted (a new
// process, a new table instance) answers a request recorded before the
// restart from the table instead of running it again, and its clients go
// on without a new ID.
func TestKVTableSurvivesRestart(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{}
	first := serveStore(t, b, s, rpcq.ServerConfig{Table: kvTable(t, b)})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := storeClient(t, b, relay)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var old string
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "a"}, &old); err != nil {
		t.Fatal(err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	serveStore(t, b, s, rpcq.ServerConfig{Table: kvTable(t, b)})

	id := c.ID()
	if err := relay.Replay(relay.Recorded()[0]); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return relay.Stats().Replies >= 2 }, "the replay's answer")
	if n := s.appends.Load(); n != 1 {
		t.Fatalf("Append ran %d times after a replay across a restart, want 1", n)
	}
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "b"}, &old); err != nil || old != "a" {
		t.Fatalf("new call after the restart = %q, %v", old, err)
	}
	if c.ID() != id {
		t.Error("the client needed a new ID although the table survived")
	}
}

// TestKVTableRefusesReplayAfterRecordExpired: once a call's record has
// expired, the client's watermark in the bucket still refuses its replay,
// on a replica that never saw the client.
func TestKVTableRefusesReplayAfterRecordExpired(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{}
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newTable := func() *rpcq.KVTable {
		table, err := rpcq.NewKVTable(ctx, js, "KV", rpcq.KVTableConfig{Lease: time.Second, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(table.Close)
		return table
	}
	first := serveStore(t, b, s, rpcq.ServerConfig{Table: newTable()})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := storeClient(t, b, relay)
	var old string
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "a"}, &old); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, rpcq.DefaultKVTableBucket)
	if err != nil {
		t.Fatal(err)
	}
	callKey := "KV." + c.ID() + ".1"
	answered := time.Now()
	// Keep the client busy, so that it stays known, until call 1's reply
	// is gone: its own record, if it had one, has expired, and a lease
	// has passed since it was saved, if it was in the client's record.
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		if err := c.Call(ctx, "KV.Get", "k", &old); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(ctx, "KV.Append", AppendArgs{"other", "x"}, &old); err != nil {
			t.Fatal(err)
		}
		_, err := kv.Get(ctx, callKey)
		return errors.Is(err, jetstream.ErrKeyNotFound) && time.Since(answered) > time.Second
	}, "call 1's reply to expire")

	// A new replica, which knows the client only from the bucket.
	first.Shutdown(ctx)
	serveStore(t, b, s, rpcq.ServerConfig{Table: newTable()})
	rec := relay.Recorded()[0]
	reply, err := b.Connect().RequestMsg(&nats.Msg{Subject: rec.Subject, Header: rec.Header, Data: rec.Data}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "410" {
		t.Errorf("replay after its record expired: code %q (%s), want 410", code, reply.Header.Get(rpcq.HeaderError))
	}
	if s.data["k"] != "a" {
		t.Errorf("k = %q after the replay, want a", s.data["k"])
	}
	// The new replica knew the client from its record in the bucket: the
	// client goes on under the same ID.
	id := c.ID()
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "b"}, &old); err != nil || old != "a" {
		t.Fatalf("next call = %q, %v", old, err)
	}
	if c.ID() != id {
		t.Error("the new replica did not know the client from the bucket")
	}
}

// TestExactlyOnceReplyTooLarge: an Append whose reply cannot be sent runs
// once and says so with CodeReplyTooLarge, to its caller and to a
// duplicate, instead of a 500 that hides that it ran.
func TestExactlyOnceReplyTooLarge(t *testing.T) {
	for _, name := range []string{"memory", "KV"} {
		t.Run(name, func(t *testing.T) {
			b := brokertest.Start(t, broker.Config{MaxPayload: 8192})
			s := &store{}
			cfg := rpcq.ServerConfig{}
			if name == "KV" {
				cfg.Table = kvTable(t, b)
			}
			serveStore(t, b, s, cfg)
			relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
			c := storeClient(t, b, relay)
			ctx := timeout(t, 20*time.Second)
			chunk := strings.Repeat("x", 5000)
			var old string
			if err := c.Call(ctx, "KV.Append", AppendArgs{"k", chunk}, &old); err != nil {
				t.Fatal(err)
			}
			if err := c.Call(ctx, "KV.Append", AppendArgs{"k", chunk}, &old); err != nil {
				t.Fatal(err)
			}
			err := c.Call(ctx, "KV.Append", AppendArgs{"k", chunk}, &old) // old is 10000 bytes
			if !errors.Is(err, rpcq.ErrReplyTooLarge) || !strings.Contains(err.Error(), "ran") {
				t.Fatalf("Append with a 10000 byte reply = %v, want %d saying it ran", err, rpcq.CodeReplyTooLarge)
			}
			var rec rpcqtest.Recorded // the third call's, whichever send
			for _, r := range relay.Recorded() {
				if strings.HasSuffix(rpcq.RequestField(r.Header, "id"), "-3") {
					rec = r
				}
			}
			reply := resend(t, b.Connect(), rec)
			if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "413" {
				t.Errorf("duplicate = %q (%s), want 413", code, reply.Header.Get(rpcq.HeaderError))
			}
			if n := s.appends.Load(); n != 3 || len(s.data["k"]) != 15000 {
				t.Errorf("Append ran %d times, k has %d bytes; want 3 and 15000", n, len(s.data["k"]))
			}
		})
	}
}

// TestShellBodies: without a Content-Type, a body that is JSON text of any
// kind is read and answered as JSON, as `nats request` sends it; one that
// is neither JSON nor msgpack gets a 400 that names both. The Go client's
// msgpack bodies that are also JSON text still arrive as msgpack.
func TestShellBodies(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{data: map[string]string{"k": "v"}}
	serveStore(t, b, s, rpcq.ServerConfig{})
	raw := b.Connect()
	ask := func(body string) *nats.Msg {
		t.Helper()
		reply, err := raw.Request("rpcq.KV.Get", []byte(body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return reply
	}
	for _, body := range []string{`"k"`, ` "k"`, "\"k\"\n"} {
		if reply := ask(body); string(reply.Data) != `"v"` || reply.Header.Get(rpcq.HeaderContentType) != rpcq.ContentTypeJSON {
			t.Errorf("Get %q = %q (%s), want \"v\" as JSON", body, reply.Data, reply.Header.Get(rpcq.HeaderError))
		}
	}
	for _, body := range []string{"k", `"k`} {
		reply := ask(body)
		if code, msg := reply.Header.Get(rpcq.HeaderErrorCode), reply.Header.Get(rpcq.HeaderError); code != "400" || !strings.Contains(msg, "JSON") || !strings.Contains(msg, "msgpack") {
			t.Errorf("Get %q = %s %q, want 400 naming JSON and msgpack", body, code, msg)
		}
	}
	c := storeClient(t, b, nil)
	var sum int
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: "Num", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	rpcq.HandleFunc(srv, "Inc", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	for n := range 60 { // 48 to 57 encode as the ASCII digits
		if err := c.Call(timeout(t, 5*time.Second), "Num.Inc", n, &sum); err != nil || sum != n+1 {
			t.Errorf("Inc(%d) = %d, %v", n, sum, err)
		}
	}
}
