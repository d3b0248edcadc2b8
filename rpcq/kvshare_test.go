package rpcq_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

// bucketWrites returns a function that tells how many messages the
// duplicate table's bucket has stored since it was made.
func bucketWrites(t *testing.T, b *brokertest.Server) (func() uint64, jetstream.KeyValue) {
	t.Helper()
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 10*time.Second)
	stream, err := js.Stream(ctx, "KV_"+rpcq.DefaultKVTableBucket)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, rpcq.DefaultKVTableBucket)
	if err != nil {
		t.Fatal(err)
	}
	last := func() uint64 {
		info, err := stream.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	from := last()
	return func() uint64 { return last() - from }, kv
}

// runCalls lets calls 1..n of client run on table, and finishes them
// all at once, call i answering reply(i).
func runCalls(t *testing.T, table *rpcq.KVTable, client string, n int, reply func(seq uint64) rpcq.Reply) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	var wg sync.WaitGroup
	for seq := uint64(1); seq <= uint64(n); seq++ {
		wg.Go(func() {
			v, _, _, err := table.Begin(ctx, rpcq.RequestID{Client: client, Seq: seq}, 0, time.Now())
			if err != nil || v != rpcq.Run {
				t.Errorf("call %d = %v, %v; want Run", seq, v, err)
			}
		})
	}
	wg.Wait()
	for seq := uint64(1); seq <= uint64(n); seq++ {
		wg.Go(func() {
			if err := table.Finish(ctx, rpcq.RequestID{Client: client, Seq: seq}, reply(seq)); err != nil {
				t.Errorf("Finish(%d) = %v", seq, err)
			}
		})
	}
	wg.Wait()
}

// wantAnswered checks that a duplicate of each of calls 1..n on table
// gets reply(seq).
func wantAnswered(t *testing.T, table *rpcq.KVTable, client string, n int, reply func(seq uint64) rpcq.Reply) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	for seq := uint64(1); seq <= uint64(n); seq++ {
		v, r, _, err := table.Begin(ctx, rpcq.RequestID{Client: client, Seq: seq}, 0, time.Now())
		if want := reply(seq); err != nil || v != rpcq.Answered || r.Code != want.Code || r.Message != want.Message || !bytes.Equal(r.Body, want.Body) {
			t.Errorf("duplicate of call %d = %v %d %q %q, %v; want Answered %d %q %q", seq, v, r.Code, r.Message, r.Body, err, want.Code, want.Message, want.Body)
		}
	}
}

// small is a reply that shares its client's record.
func small(seq uint64) rpcq.Reply {
	if seq%3 == 0 {
		return rpcq.Reply{Code: rpcq.CodeInternal, Message: "failed " + string(rune('a'+seq%26))}
	}
	return rpcq.Reply{Body: bytes.Repeat([]byte{byte(seq)}, 100)}
}

// TestKVTableRepliesShareWrites: the replies of a client's calls that
// finish together are saved in a few writes of the client's record, not
// one message each, and a replica that never saw the calls (a restarted
// server, or another replica) answers each duplicate with its reply.
func TestKVTableRepliesShareWrites(t *testing.T) {
	b := brokertest.Start(t)
	table := kvTableLease(t, b, time.Minute)
	writes, kv := bucketWrites(t, b)
	client := newClientID(t, b)
	const calls = 32
	runCalls(t, table, client, calls, small)
	if n := writes(); n > calls {
		// Claims share writes too: 2*calls messages would be one per
		// claim and per reply.
		t.Errorf("%d calls made %d writes of the bucket, want at most %d", calls, n, calls)
	}
	if _, err := kv.Get(context.Background(), "KV."+client+".1"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("a small reply has a record of its own (%v), want it in its client's record", err)
	}
	wantAnswered(t, kvTableLease(t, b, time.Minute), client, calls, small)
	wantAnswered(t, table, client, calls, small)
}

// TestKVTableLargeReply: a reply too large to share its client's record
// is saved under a key of its own, and replayed from there.
func TestKVTableLargeReply(t *testing.T) {
	b := brokertest.Start(t)
	table := kvTableLease(t, b, time.Minute)
	_, kv := bucketWrites(t, b)
	client := newClientID(t, b)
	large := func(seq uint64) rpcq.Reply {
		if seq == 2 {
			return small(seq)
		}
		return rpcq.Reply{Body: bytes.Repeat([]byte{byte(seq)}, 20<<10), JSON: true}
	}
	runCalls(t, table, client, 3, large)
	for _, key := range []string{"KV." + client + ".1", "KV." + client + ".3"} {
		if _, err := kv.Get(context.Background(), key); err != nil {
			t.Errorf("Get(%s) = %v, want the large reply's record", key, err)
		}
	}
	wantAnswered(t, kvTableLease(t, b, time.Minute), client, 3, large)
}

// TestKVTableRecordSpills: replies that would grow their client's record
// past its bound are saved under keys of their own; every one is
// replayed, and the record stays bounded.
func TestKVTableRecordSpills(t *testing.T) {
	b := brokertest.Start(t)
	table := kvTableLease(t, b, time.Minute)
	_, kv := bucketWrites(t, b)
	client := newClientID(t, b)
	const calls = 24 // of 3 KiB each: more than a record takes
	reply := func(seq uint64) rpcq.Reply { return rpcq.Reply{Body: bytes.Repeat([]byte{byte(seq)}, 3<<10)} }
	runCalls(t, table, client, calls, reply)
	rec, err := kv.Get(context.Background(), "KV."+client)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Value()); n > 40<<10 {
		t.Errorf("the client's record is %d bytes, want it bounded", n)
	}
	keys, err := kv.ListKeysFiltered(context.Background(), "KV."+client+".*")
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for range keys.Keys() {
		own++
	}
	if own == 0 || own == calls {
		t.Errorf("%d of %d replies have records of their own, want some", own, calls)
	}
	wantAnswered(t, kvTableLease(t, b, time.Minute), client, calls, reply)
}

// TestKVTableWatermarkDropsSharedReplies: once the client's watermark
// passes its calls, their saved replies leave its record, and a
// duplicate of one is refused as stale, never run.
func TestKVTableWatermarkDropsSharedReplies(t *testing.T) {
	b := brokertest.Start(t)
	table := kvTableLease(t, b, time.Minute)
	_, kv := bucketWrites(t, b)
	client := newClientID(t, b)
	const calls = 8
	runCalls(t, table, client, calls, small)
	ctx := timeout(t, 30*time.Second)
	before, err := kv.Get(ctx, "KV."+client)
	if err != nil {
		t.Fatal(err)
	}
	// Call 9 says every reply up to 8 was seen.
	if v, _, _, err := table.Begin(ctx, rpcq.RequestID{Client: client, Seq: calls + 1}, calls, time.Now()); err != nil || v != rpcq.Run {
		t.Fatalf("call %d = %v, %v; want Run", calls+1, v, err)
	}
	after, err := kv.Get(ctx, "KV."+client)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Value()) >= len(before.Value())/4 {
		t.Errorf("the client's record is %d bytes after the watermark passed its replies, %d before", len(after.Value()), len(before.Value()))
	}
	for _, tab := range []*rpcq.KVTable{table, kvTableLease(t, b, time.Minute)} {
		if v, _, _, err := tab.Begin(ctx, rpcq.RequestID{Client: client, Seq: 3}, 0, time.Now()); err != nil || v != rpcq.Stale {
			t.Errorf("duplicate of an acknowledged call = %v, %v; want Stale", v, err)
		}
	}
}
