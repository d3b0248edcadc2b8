package rpcq_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// kvTableLease opens the broker's shared duplicate table with a short lease.
func kvTableLease(t *testing.T, b *brokertest.Server, lease time.Duration) *rpcq.KVTable {
	t.Helper()
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	table, err := rpcq.NewKVTable(ctx, js, "KV", rpcq.KVTableConfig{Lease: lease, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(table.Close)
	return table
}

// appendOnLease serves the KV store on a table with the lease given,
// behind a relay that records requests, and makes the call its tests
// send again: one client's Append of "a" to k.
func appendOnLease(t *testing.T, lease time.Duration) (*brokertest.Server, *store, *rpcqtest.Relay, *rpcq.Client, context.Context) {
	t.Helper()
	b := brokertest.Start(t)
	s := &store{}
	serveStore(t, b, s, rpcq.ServerConfig{Table: kvTableLease(t, b, lease)})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	c := storeClient(t, b, relay)
	ctx := timeout(t, 30*time.Second)
	var old string
	if err := c.Call(ctx, "KV.Append", AppendArgs{"k", "a"}, &old); err != nil {
		t.Fatal(err)
	}
	return b, s, relay, c, ctx
}

// resend sends a recorded request again as its client would, asking again
// while the answer is CodeDuplicateRunning (as it is while a reply that
// was sent is being saved), and returns the answer.
func resend(t *testing.T, nc *nats.Conn, rec rpcqtest.Recorded) *nats.Msg {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		reply, err := nc.RequestMsg(&nats.Msg{Subject: rec.Subject, Header: rec.Header, Data: rec.Data}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if reply.Header.Get(rpcq.HeaderErrorCode) != strconv.Itoa(rpcq.CodeDuplicateRunning) || time.Now().After(deadline) {
			return reply
		}
	}
}

// TestKVTableResendAcrossLease: the exact request of a finished call, sent
// again and again for more than two leases, never runs again: every resend
// gets the saved reply, because a client that keeps asking keeps its
// record and its reply alive.
func TestKVTableResendAcrossLease(t *testing.T) {
	const lease = time.Second
	b, s, relay, _, _ := appendOnLease(t, lease)
	rec := relay.Recorded()[0]
	raw := b.Connect()
	for end := time.Now().Add(5 * lease / 2); time.Now().Before(end); time.Sleep(lease / 20) {
		reply := resend(t, raw, rec)
		if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "" {
			t.Fatalf("resend = error %s (%s), want the saved reply", code, reply.Header.Get(rpcq.HeaderError))
		}
		if n := s.appends.Load(); n != 1 {
			t.Fatalf("Append ran %d times, want 1", n)
		}
	}
	if s.data["k"] != "a" {
		t.Errorf("k = %q, want a", s.data["k"])
	}
}

// TestKVTableResendAfterIdleLease: a call resent after its client was idle
// for longer than a lease is not run again, and the answer does not claim
// the call never ran.
func TestKVTableResendAfterIdleLease(t *testing.T) {
	const lease = time.Second
	b, s, relay, c, ctx := appendOnLease(t, lease)
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, rpcq.DefaultKVTableBucket)
	if err != nil {
		t.Fatal(err)
	}
	gone := func(key string) func() bool {
		return func() bool {
			_, err := kv.Get(ctx, key)
			return errors.Is(err, jetstream.ErrKeyNotFound)
		}
	}
	// The reply is in the client's record or in one of its own: both expire.
	callGone, clientGone := gone("KV."+c.ID()+".1"), gone("KV."+c.ID())
	brokertest.WaitFor(t, 10*lease, func() bool { return callGone() && clientGone() }, "the call's records to expire")
	rec := relay.Recorded()[0]
	raw := b.Connect()
	for range 10 {
		reply := resend(t, raw, rec)
		code, msg := reply.Header.Get(rpcq.HeaderErrorCode), reply.Header.Get(rpcq.HeaderError)
		if code == "" {
			t.Fatal("resend after the lease succeeded")
		}
		if !strings.Contains(msg, "unknown") {
			t.Errorf("resend after the lease = %s %q, want an error saying the outcome is unknown", code, msg)
		}
		time.Sleep(lease / 10)
	}
	if n := s.appends.Load(); n != 1 || s.data["k"] != "a" {
		t.Errorf("Append ran %d times, k = %q; want 1 and a", n, s.data["k"])
	}
}

// TestKVTableReplyOutage: clients whose replies are all dropped for longer
// than a lease keep resending; each call runs once, and once replies flow
// again every caller gets its call's reply, not an error.
func TestKVTableReplyOutage(t *testing.T) {
	// The lease outlasts the client's longest wait between resends in
	// the outage (2.56s, +25%) plus the quarter lease a record may
	// already be old, as a lease must.
	const lease, outage = 5 * time.Second, 3 * time.Second
	b := brokertest.Start(t)
	s := &store{}
	serveStore(t, b, s, rpcq.ServerConfig{Concurrency: 4, Table: kvTableLease(t, b, lease)})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{DropReplies: 1})
	time.AfterFunc(outage, func() { relay.SetDropReplies(0) })
	ctx := timeout(t, 30*time.Second)
	const callers = 10
	var wg sync.WaitGroup
	for i := range callers {
		c := storeClient(t, b, relay)
		wg.Go(func() {
			var old string
			if err := c.Call(ctx, "KV.Append", AppendArgs{string(rune('a' + i)), "x"}, &old); err != nil || old != "" {
				t.Errorf("caller %d: Append = %q, %v; want its reply", i, old, err)
			}
		})
	}
	wg.Wait()
	if n := s.appends.Load(); n != callers {
		t.Errorf("Append ran %d times for %d calls", n, callers)
	}
	if st := relay.Stats(); st.DroppedReplies == 0 {
		t.Errorf("no reply was dropped: %+v", st)
	}
}

// TestKVTableForgottenReply: a call whose saved reply expired while its
// client stayed active without acknowledging it is answered
// CodeOutcomeUnknown and never run again.
func TestKVTableForgottenReply(t *testing.T) {
	const lease = time.Second
	b, s, relay, c, ctx := appendOnLease(t, lease)
	first := relay.Recorded()[0]
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, rpcq.DefaultKVTableBucket)
	if err != nil {
		t.Fatal(err)
	}
	var saved time.Time // by when call 1's reply was saved
	// Calls 2, 3, ... of the same client, which never acknowledges call 1,
	// keep the client known until call 1's reply has expired: a lease
	// after it was saved, whether in the client's record or in one of
	// its own.
	raw := b.Connect()
	seq := 1
	brokertest.WaitFor(t, 10*lease, func() bool {
		seq++
		h := nats.Header{}
		for k, v := range first.Header {
			h[k] = v
		}
		h[rpcq.HeaderRequest] = []string{first.Header.Get(rpcq.HeaderRequest)}
		rpcq.SetRequestField(h, "id", c.ID()+"-"+strconv.Itoa(seq))
		if reply := resend(t, raw, rpcqtest.Recorded{Subject: first.Subject, Header: h, Data: first.Data}); reply.Header.Get(rpcq.HeaderErrorCode) != "" {
			t.Fatalf("call %d = %s", seq, reply.Header.Get(rpcq.HeaderError))
		}
		if seq == 2 {
			// Call 1's reply was sent before it was saved, in the
			// client's next write at the latest: call 2's claim.
			saved = time.Now()
		}
		_, err := kv.Get(ctx, "KV."+c.ID()+".1")
		return errors.Is(err, jetstream.ErrKeyNotFound) && time.Since(saved) > lease
	}, "call 1's reply to expire")
	ran := s.appends.Load()
	reply := resend(t, raw, first)
	if code := reply.Header.Get(rpcq.HeaderErrorCode); code != strconv.Itoa(rpcq.CodeOutcomeUnknown) {
		t.Errorf("resend of call 1 = %q (%s), want %d", code, reply.Header.Get(rpcq.HeaderError), rpcq.CodeOutcomeUnknown)
	}
	if n := s.appends.Load(); n != ran {
		t.Errorf("the resend of call 1 ran")
	}
}
