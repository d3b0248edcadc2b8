package rpcq_test

import (
	"errors"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/rpcq/rpcqtest"
)

// atMostOnceStore serves the store's Append at most once.
var atMostOnceStore = map[string]rpcq.Mode{"Append": rpcq.AtMostOnce, "Get": rpcq.ReadOnly}

// TestRestartRefusesFirstContact: at-most-once requests sent before a
// crash, lost on the way, whose callers timed out, are refused by the
// restarted server when they arrive after all, although they are their
// client's first contact with it.
func TestRestartRefusesFirstContact(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{}
	first := serveStore(t, b, s, rpcq.ServerConfig{Modes: atMostOnceStore})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{DropRequests: 1})
	const callers = 5
	for range callers {
		c := storeClient(t, b, relay)
		var old string
		err := c.Call(timeout(t, 200*time.Millisecond), "KV.Append", AppendArgs{"k", "a"}, &old, rpcq.WithMode(rpcq.AtMostOnce))
		if !errors.Is(err, rpcq.ErrTimeout) {
			t.Fatalf("Append through a relay that drops every request = %v, want a timeout", err)
		}
	}
	first.Shutdown(timeout(t, 5*time.Second))
	serveStore(t, b, s, rpcq.ServerConfig{Modes: atMostOnceStore})
	raw := b.Connect()
	for _, rec := range relay.Recorded() {
		reply := resend(t, raw, rec)
		if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "410" {
			t.Errorf("request from before the restart = %q (%s), want 410", code, reply.Header.Get(rpcq.HeaderError))
		}
	}
	if n := s.appends.Load(); n != 0 {
		t.Errorf("%d requests from before the restart ran", n)
	}
}

// TestRestartRefusesOldRequestsRestoredTable: a server restarted with a
// table rebuilt from its completion records (as examples/kv does) knows
// clients from before the crash, yet refuses every at-most-once request
// sent before it started: from a client it knows, and from one whose
// first contact it is.
func TestRestartRefusesOldRequestsRestoredTable(t *testing.T) {
	b := brokertest.Start(t)
	s := &store{}
	began := time.Now()
	first := serveStore(t, b, s, rpcq.ServerConfig{Table: rpcq.NewMemoryTable(began, 0), Modes: atMostOnceStore})
	relay := rpcqtest.Start(t, b.Connect(), rpcqtest.Config{})
	known := storeClient(t, b, relay)
	var old string
	if err := known.Call(timeout(t, 5*time.Second), "KV.Append", AppendArgs{"k", "a"}, &old, rpcq.WithMode(rpcq.AtMostOnce)); err != nil {
		t.Fatal(err)
	}
	relay.SetDropRequests(1)
	for _, c := range []*rpcq.Client{known, storeClient(t, b, relay), storeClient(t, b, relay)} {
		err := c.Call(timeout(t, 200*time.Millisecond), "KV.Append", AppendArgs{"k", "b"}, &old, rpcq.WithMode(rpcq.AtMostOnce))
		if !errors.Is(err, rpcq.ErrTimeout) {
			t.Fatalf("Append through a relay that drops every request = %v, want a timeout", err)
		}
	}
	first.Shutdown(timeout(t, 5*time.Second))
	table := rpcq.NewMemoryTable(began, 0)
	if err := table.Restore(rpcq.RequestID{Client: known.ID(), Seq: 1}, 0, rpcq.Reply{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	serveStore(t, b, s, rpcq.ServerConfig{Table: table, Modes: atMostOnceStore})
	raw := b.Connect()
	for _, rec := range relay.Recorded()[1:] {
		reply := resend(t, raw, rec)
		if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "410" {
			t.Errorf("request from before the restart = %q (%s), want 410", code, reply.Header.Get(rpcq.HeaderError))
		}
	}
	if n := s.appends.Load(); n != 1 {
		t.Errorf("Append ran %d times, want once: requests from before the restart ran", n)
	}
	// Calls made now run, under the known client's old ID or a new one.
	relay.SetDropRequests(0)
	if err := known.Call(timeout(t, 5*time.Second), "KV.Append", AppendArgs{"k", "c"}, &old, rpcq.WithMode(rpcq.AtMostOnce)); err != nil || old != "a" {
		t.Errorf("a call after the restart = %q, %v; want a", old, err)
	}
}
