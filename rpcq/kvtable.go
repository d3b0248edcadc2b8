package rpcq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultKVTableBucket is the key/value bucket of KVTable when none is named.
const DefaultKVTableBucket = "rpcq-dedup"

// KVTableConfig describes a KVTable. Zero fields take their defaults.
type KVTableConfig struct {
	// Bucket is the JetStream key/value bucket (default
	// DefaultKVTableBucket). Services can share one; keys start with the
	// service name.
	Bucket string
	// Replicas is the bucket's replication: 1 on one server, 3 on a cluster.
	Replicas int
	// Lease is how long a record outlives its last write, and so how long
	// an idle client is remembered (default DefaultClientLease). It is the
	// bucket's TTL, so every service sharing the bucket has the same.
	Lease time.Duration
	// Storage is where the bucket lives (default jetstream.FileStorage).
	Storage jetstream.StorageType
	// Logger receives failures to record a client's watermark (default slog.Default).
	Logger *slog.Logger
}

// KVTable is a duplicate table in a JetStream key/value bucket: every
// replica of a service shares it, and it survives their crashes. A call is
// claimed with a KV create before it runs (the first replica to create it
// runs it; a duplicate elsewhere is answered CodeDuplicateRunning and
// retried) and its reply is written before the reply is sent.
//
// What it guarantees: a call never runs twice, on any replica, across
// crashes. What it cannot: a replica killed after the call's effect and
// before its reply was written leaves the call claimed but unanswered;
// duplicates are answered CodeDuplicateRunning until the lease ends, and
// the caller sees a timeout, an outcome it must treat as unknown. For
// exactly-once across such a crash, a handler stores its effect and its
// completion record atomically in its own storage (see examples/kv).
//
// Records expire a lease after their last write. Each client's watermark
// is written in the background, every eighth of a lease, so that a
// replayed request whose record has expired is still refused; replicas
// reread it at least every quarter lease.
type KVTable struct {
	kv      jetstream.KeyValue
	service string
	since   time.Time
	lease   time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	clients map[clientID]knownClient // what this replica knows of each client
	dirty   map[clientID]uint64      // watermarks still to be written
	stats   TableStats
	done    chan struct{}
	stopped sync.WaitGroup
}

type knownClient struct {
	ack     uint64    // a lower bound of the client's watermark
	fetched time.Time // when it was last read from or written to the bucket
}

// NewKVTable opens (creating if need be) the bucket of cfg as the
// duplicate table of service. Close it after the server's Shutdown.
func NewKVTable(ctx context.Context, js jetstream.JetStream, service string, cfg KVTableConfig) (*KVTable, error) {
	if !validName(service) {
		return nil, fmt.Errorf("%w: service name %q", ErrInvalidConfig, service)
	}
	if cfg.Lease < 0 || cfg.Replicas < 0 {
		return nil, fmt.Errorf("%w: negative Lease or Replicas", ErrInvalidConfig)
	}
	bucket := cmp.Or(cfg.Bucket, DefaultKVTableBucket)
	lease := cmp.Or(cfg.Lease, DefaultClientLease)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "rpcq duplicate table",
		History:     1,
		TTL:         lease,
		Replicas:    cmp.Or(cfg.Replicas, 1),
		Storage:     cfg.Storage,
	})
	if err != nil {
		return nil, fmt.Errorf("rpcq: duplicate table bucket %s: %w", bucket, err)
	}
	stream, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("rpcq: duplicate table bucket %s: %w", bucket, err)
	}
	t := &KVTable{
		kv:      kv,
		service: service,
		since:   stream.CachedInfo().Created, // the table began with its bucket
		lease:   lease,
		log:     cmp.Or(cfg.Logger, slog.Default()),
		clients: map[clientID]knownClient{},
		dirty:   map[clientID]uint64{},
		done:    make(chan struct{}),
	}
	t.stopped.Go(t.writeWatermarks)
	return t, nil
}

// callRecord is a call's entry in the bucket.
type callRecord struct {
	Done  bool  `json:"d"`
	Reply Reply `json:"r"`
}

// clientRecord is a client's entry in the bucket.
type clientRecord struct {
	Ack uint64 `json:"a"`
}

func (t *KVTable) clientKey(c clientID) string { return t.service + "." + c.String() }

func (t *KVTable) callKey(c clientID, seq uint64) string {
	return t.clientKey(c) + "." + strconv.FormatUint(seq, 10)
}

// Begin implements Table.
func (t *KVTable) Begin(ctx context.Context, id RequestID, ack uint64, now time.Time) (Verdict, Reply, <-chan struct{}, error) {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return 0, Reply{}, nil, Errorf(CodeBadRequest, "%v", err)
	}
	known, durableAck, err := t.client(ctx, cid, now)
	if err != nil {
		return 0, Reply{}, nil, err
	}
	if (!known && !mayBeNew(cid.born, t.since, now, t.lease)) || id.Seq <= max(ack, durableAck) {
		t.count(func(s *TableStats) { s.Stale++ })
		return Stale, Reply{}, nil, nil
	}
	t.noteAck(cid, ack, now)

	key := t.callKey(cid, id.Seq)
	pending, _ := Msgpack.Marshal(callRecord{})
	_, err = t.kv.Create(ctx, key, pending)
	if err == nil {
		t.count(func(s *TableStats) { s.Executions++ })
		return Run, Reply{}, nil, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, Reply{}, nil, fmt.Errorf("claim %s: %w", key, err)
	}
	entry, err := t.kv.Get(ctx, key)
	if err != nil {
		return 0, Reply{}, nil, fmt.Errorf("read %s: %w", key, err)
	}
	var rec callRecord
	if err := Msgpack.Unmarshal(entry.Value(), &rec); err != nil {
		return 0, Reply{}, nil, fmt.Errorf("decode %s: %w", key, err)
	}
	if !rec.Done {
		return Running, Reply{}, nil, nil // on another replica, maybe: retry
	}
	t.count(func(s *TableStats) { s.Duplicates++ })
	return Answered, rec.Reply, nil, nil
}

// Finish implements Table.
func (t *KVTable) Finish(ctx context.Context, id RequestID, reply Reply) error {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return err
	}
	rec, err := Msgpack.Marshal(callRecord{Done: true, Reply: reply})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	if _, err := t.kv.Put(ctx, t.callKey(cid, id.Seq), rec); err != nil {
		return fmt.Errorf("rpcq: save reply: %w", err)
	}
	return nil
}

// client reports whether the client is known to the table and a lower
// bound of its watermark, from this replica's memory if it is fresh
// enough, else from the bucket.
func (t *KVTable) client(ctx context.Context, cid clientID, now time.Time) (known bool, ack uint64, err error) {
	t.mu.Lock()
	c, ok := t.clients[cid]
	t.mu.Unlock()
	if ok && now.Sub(c.fetched) < t.lease/4 {
		return true, c.ack, nil
	}
	entry, err := t.kv.Get(ctx, t.clientKey(cid))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("read client %s: %w", cid, err)
	}
	var rec clientRecord
	if err := Msgpack.Unmarshal(entry.Value(), &rec); err != nil {
		return false, 0, fmt.Errorf("decode client %s: %w", cid, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c = t.clients[cid]
	c.ack, c.fetched = max(c.ack, rec.Ack), now
	t.clients[cid] = c
	return true, c.ack, nil
}

// noteAck records the client's watermark, to be written in the background
// when it advanced (or the client is new to this replica).
func (t *KVTable) noteAck(cid clientID, ack uint64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.clients[cid]
	if ok && ack <= c.ack {
		return
	}
	c.ack = max(c.ack, ack)
	if !ok {
		c.fetched = now
	}
	t.clients[cid] = c
	t.dirty[cid] = c.ack
}

// writeWatermarks writes advanced watermarks until Close, at most once
// per flush period: a watermark must reach the bucket well within a lease
// (before the records it covers expire), not at once, and writing it on
// every call would double the table's writes.
func (t *KVTable) writeWatermarks() {
	tick := time.NewTicker(max(t.lease/8, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		t.mu.Lock()
		dirty := t.dirty
		t.dirty = map[clientID]uint64{}
		t.mu.Unlock()
		for cid, ack := range dirty {
			rec, _ := Msgpack.Marshal(clientRecord{Ack: ack})
			ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
			_, err := t.kv.Put(ctx, t.clientKey(cid), rec)
			cancel()
			if err != nil {
				t.log.Warn("rpcq: writing a client's watermark failed", "client", cid.String(), "error", err)
			}
		}
	}
}

// Expire forgets, in this replica's memory, clients not heard of for a
// lease; the bucket forgets them by itself.
func (t *KVTable) Expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for cid, c := range t.clients {
		if now.Sub(c.fetched) > t.lease {
			delete(t.clients, cid)
			n++
		}
	}
	return n
}

// Stats returns this replica's counts; Clients is the clients it knows,
// and Entries is not counted.
func (t *KVTable) Stats() TableStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats
	st.Clients = len(t.clients)
	return st
}

func (t *KVTable) count(f func(*TableStats)) {
	t.mu.Lock()
	f(&t.stats)
	t.mu.Unlock()
}

// Close stops writing watermarks; those not yet written are lost, which
// costs nothing but a later reread. It is idempotent.
func (t *KVTable) Close() {
	t.mu.Lock()
	select {
	case <-t.done:
	default:
		close(t.done)
	}
	t.mu.Unlock()
	t.stopped.Wait()
}
