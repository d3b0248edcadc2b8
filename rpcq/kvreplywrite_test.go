package rpcq_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// TestKVTableAnswersBeforeSaving: a call through a KVTable is answered
// as soon as it has run, while its reply waits to share a write; a
// duplicate meanwhile is not run but told to ask again, and gets the
// saved reply once it is written.
func TestKVTableAnswersBeforeSaving(t *testing.T) {
	const delay = 2 * time.Second
	b := brokertest.Start(t)
	table := kvTable(t, b)
	rpcq.SetReplyDelay(table, delay)
	s := &store{}
	serveStore(t, b, s, rpcq.ServerConfig{Table: table})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := storeClient(t, b, relay)
	ctx := timeout(t, 20*time.Second)

	start := time.Now()
	var old string
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "a"}, &old); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= delay {
		t.Fatalf("the call took %v: its answer waited for its reply's write", took)
	}
	rec := relay.Recorded()[0]
	raw := b.Connect()
	reply, err := raw.RequestMsg(&nats.Msg{Subject: rec.Subject, Header: rec.Header, Data: rec.Data}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get(rpcq.HeaderErrorCode); code != strconv.Itoa(rpcq.CodeDuplicateRunning) {
		t.Errorf("duplicate before the reply is written = %q (%s), want %d", code, reply.Header.Get(rpcq.HeaderError), rpcq.CodeDuplicateRunning)
	}
	if reply := resend(t, raw, rec); reply.Header.Get(rpcq.HeaderErrorCode) != "" {
		t.Errorf("duplicate after the reply is written = %s, want the saved reply", reply.Header.Get(rpcq.HeaderError))
	}
	if n := s.appends.Load(); n != 1 {
		t.Errorf("Append ran %d times, want 1", n)
	}
}

// TestKVTableOneWritePerCall: a client making one call at a time costs
// its record one write a call. Each reply waits for the next call's
// claim, whose watermark says the client has it, so that it is never
// written; only the last is written alone.
func TestKVTableOneWritePerCall(t *testing.T) {
	const calls = 20
	b := brokertest.Start(t)
	table := kvTable(t, b)
	rpcq.SetReplyDelay(table, 3*time.Second) // the next call always comes first
	writes, _ := bucketWrites(t, b)
	serveStore(t, b, &store{}, rpcq.ServerConfig{Table: table})
	// A resend would cost a write: none comes before a call's reply.
	c := client(t, b.Connect(), rpcq.ClientConfig{RetryInterval: time.Minute, Modes: map[string]rpcq.Mode{"KV.Append": rpcq.ExactlyOnce}})
	ctx := timeout(t, 20*time.Second)
	for i := range calls {
		var old string
		if err := c.Call(ctx, "KV.Append", AppendArgs{"k", strconv.Itoa(i)}, &old); err != nil {
			t.Fatal(err)
		}
	}
	if n := writes(); n != calls {
		t.Errorf("%d calls made %d writes before the last reply's, want %d", calls, n, calls)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return writes() == calls+1 }, "the last reply to be written alone")
}
