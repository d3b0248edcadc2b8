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
	// bucket's TTL, so every service sharing the bucket has the same. A
	// client resending a call is idle between resends, which are at most
	// 5s (+25% jitter) apart: a lease of less than about 6s can forget a
	// client that is still asking, which then gets CodeGone.
	Lease time.Duration
	// Storage is where the bucket lives (default jetstream.FileStorage).
	Storage jetstream.StorageType
	// Logger receives failures to release a failed claim (default slog.Default).
	Logger *slog.Logger
}

// KVTable is a duplicate table in a JetStream key/value bucket: every
// replica of a service shares it, and it survives their crashes. A call is
// claimed before it runs, by a compare-and-swap of its client's record
// that adds the call's number, and the time of the claim, to the calls
// the client has claimed: the first replica whose write lists the call
// runs it, and a duplicate elsewhere is answered CodeDuplicateRunning and
// retried. A call's reply is sent, then saved: in its client's record
// too, unless it is large (over sharedReplyMax) or the record is full
// (clientRecordMax), when it has a record of its own. The claims and
// replies of one client's calls that arrive or finish while its record is
// being written share the next write of it, and a reply waits briefly for
// a claim to share one with (see kvwriter.go). A duplicate that arrives
// before the reply is written is answered CodeDuplicateRunning and asks
// again: a client resends only when no reply came within its
// RetryInterval, and the write takes milliseconds, so that is rare.
//
// What it guarantees: a call never runs twice, on any replica, across
// crashes. What it cannot: a replica killed after the call's effect and
// before its reply was written leaves the call claimed but unanswered;
// duplicates are answered CodeDuplicateRunning until a lease has passed
// since the claim, then CodeOutcomeUnknown, and the caller sees a timeout
// or that code, an outcome it must treat as unknown. For exactly-once
// across such a crash, a handler stores its effect and its completion
// record atomically in its own storage (see examples/kv).
//
// Records expire a lease after their last write, and a saved reply a
// lease after it was saved, wherever it is: one in its client's record
// carries the time it was saved, and is dropped a lease later. The
// client's record, not the call's, is what proves a call was claimed: it
// holds the client's watermark and every claimed call above it, so a
// duplicate whose reply has expired is answered CodeOutcomeUnknown (it
// ran, or may have) and never run again, and one at or below the
// watermark gets CodeGone; a rising watermark drops the claims and the
// saved replies it passes. A duplicate rewrites a client record or a
// saved reply older than a quarter lease, so a client that keeps
// resending keeps both. A client whose record has expired is judged by
// its birth, as MemoryTable judges one it does not know. Claim and save
// times are by the writing replica's clock; replicas' clocks are assumed
// to agree to well within the lease.
//
// Replicas sharing a bucket must all save replies in the clients' records:
// a replica of a version that kept every reply under a key of its own
// drops the replies a record holds when it rewrites it, and reads none
// there. No call runs twice for it, but their duplicates get
// CodeDuplicateRunning, then CodeOutcomeUnknown, instead of the reply.
type KVTable struct {
	kv         jetstream.KeyValue
	service    string
	since      time.Time
	lease      time.Duration
	replyDelay time.Duration // see replyWriteDelay
	log        *slog.Logger

	mu      sync.Mutex
	clients map[clientID]knownClient // this replica's copy of each client's record
	writers map[clientID]*clientWriter

	background sync.WaitGroup // goroutines writing batches (see join)
	stats      TableStats
}

// knownClient is a client's record as this replica last read or wrote it.
// Its watermark and claims only grow, so a stale copy is still true of
// what it says; only a write checks its revision.
type knownClient struct {
	rec     clientRecord
	rev     uint64
	written time.Time // when the record was written, by this replica's clock
	used    time.Time // when this replica last needed it
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
	return &KVTable{
		kv:         kv,
		service:    service,
		since:      stream.CachedInfo().Created, // the table began with its bucket
		lease:      lease,
		replyDelay: replyWriteDelay,
		log:        cmp.Or(cfg.Logger, slog.Default()),
		clients:    map[clientID]knownClient{},
		writers:    map[clientID]*clientWriter{},
	}, nil
}

func (t *KVTable) clientKey(c clientID) string { return t.service + "." + c.String() }

func (t *KVTable) callKey(c clientID, seq uint64) string {
	return t.clientKey(c) + "." + strconv.FormatUint(seq, 10)
}

// Begin implements Table. Its writes are bounded by finishTimeout, not by
// the call's deadline: a JetStream request sent while a cluster elects a
// stream leader may go unanswered, and one waited on until the call's
// deadline would hold one of the service's handlers that long. Bounded,
// the call is refused as not run (CodeUnavailable) and its client sends
// it again.
func (t *KVTable) Begin(ctx context.Context, id RequestID, ack uint64, now time.Time) (Verdict, Reply, <-chan struct{}, error) {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return 0, Reply{}, nil, Errorf(CodeBadRequest, "%v", err)
	}
	c, known, err := t.client(ctx, cid, now, false)
	if err != nil {
		return 0, Reply{}, nil, err
	}
	if !known && !mayBeNew(cid.born, t.since, now, t.lease) {
		return t.stale()
	}
	if id.Seq <= max(ack, c.rec.Ack) {
		return t.stale()
	}
	if c.rec.claimed(id.Seq) {
		if now.Sub(c.written) > t.lease/4 {
			// The client is active: keep its record, and so its claims, alive.
			if err := t.claim(ctx, cid, ack, 0, now); errors.Is(err, errAcknowledged) {
				return t.stale()
			} else if err != nil {
				return 0, Reply{}, nil, err
			}
		}
		return t.duplicate(ctx, cid, id.Seq, c.rec, now)
	}
	switch err := t.claim(ctx, cid, ack, id.Seq, now); {
	case errors.Is(err, errAcknowledged):
		return t.stale()
	case errors.Is(err, errClaimed):
		c, _, err := t.client(ctx, cid, now, false) // as the claim left it
		if err != nil {
			return 0, Reply{}, nil, err
		}
		return t.duplicate(ctx, cid, id.Seq, c.rec, now)
	case err != nil:
		return 0, Reply{}, nil, err
	}
	t.count(func(s *TableStats) { s.Executions++ })
	return Run, Reply{}, nil, nil
}

// conflict reports a create of a key that exists or an update of a
// revision that is no longer the key's last.
func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

var (
	// errAcknowledged means the client's watermark passed a call being
	// claimed, or the client expired meanwhile.
	errAcknowledged = errors.New("rpcq: call acknowledged while being claimed")
	// errClaimed means another arrival of the call claimed it first.
	errClaimed = errors.New("rpcq: call claimed by another arrival")
)

func (t *KVTable) stale() (Verdict, Reply, <-chan struct{}, error) {
	t.count(func(s *TableStats) { s.Stale++ })
	return Stale, Reply{}, nil, nil
}

// duplicate answers call seq, which rec, a copy of its client's record,
// says was claimed: with its saved reply, from the client's record or
// its own, else Running while the claim is younger than a lease, else
// Forgotten. A reply is saved when its call finishes and expires a lease
// later, so a claim younger than a lease without one is a call still
// running, or one whose replica died while it ran.
func (t *KVTable) duplicate(ctx context.Context, cid clientID, seq uint64, rec clientRecord, now time.Time) (Verdict, Reply, <-chan struct{}, error) {
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	if r, ok := t.savedInRecord(ctx, cid, seq, rec, now); ok {
		return Answered, r, nil, nil
	}
	key := t.callKey(cid, seq)
	entry, err := t.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Another replica may have saved the reply in the client's
		// record since this one read it.
		c, known, err := t.client(ctx, cid, now, true)
		if err != nil {
			return 0, Reply{}, nil, err
		}
		if known {
			rec = c.rec
		}
		if r, ok := t.savedInRecord(ctx, cid, seq, rec, now); ok {
			return Answered, r, nil, nil
		}
		if claimedAt := rec.claimedAt(seq); claimedAt == 0 || now.Sub(time.UnixMilli(claimedAt)) < t.lease {
			return Running, Reply{}, nil, nil // on another replica, maybe: retry
		}
		t.count(func(s *TableStats) { s.Forgotten++ })
		return Forgotten, Reply{}, nil, nil
	}
	if err != nil {
		return 0, Reply{}, nil, fmt.Errorf("read %s: %w", key, err)
	}
	var call callRecord
	if err := Msgpack.Unmarshal(entry.Value(), &call); err != nil {
		return 0, Reply{}, nil, fmt.Errorf("decode %s: %w", key, err)
	}
	if !call.Done {
		return Running, Reply{}, nil, nil
	}
	if now.Sub(entry.Created()) > t.lease/4 {
		// Its client still asks: keep the reply. A failure, or a newer
		// revision, costs nothing now.
		if _, err := t.kv.Update(ctx, key, entry.Value(), entry.Revision()); err != nil && !conflict(err) {
			t.log.Debug("rpcq: rewriting a saved reply failed", "key", key, "error", err)
		}
	}
	t.count(func(s *TableStats) { s.Duplicates++ })
	return Answered, call.Reply, nil, nil
}

// savedInRecord returns the reply of call seq saved in rec, its client's
// record, unless it has expired. One a quarter lease old is rewritten:
// its client still asks for it.
func (t *KVTable) savedInRecord(ctx context.Context, cid clientID, seq uint64, rec clientRecord, now time.Time) (Reply, bool) {
	s, ok := rec.saved(seq)
	if !ok {
		return Reply{}, false
	}
	switch age := now.Sub(time.UnixMilli(s.At)); {
	case age >= t.lease:
		return Reply{}, false // as if the bucket had expired it
	case age > t.lease/4:
		// A failure costs nothing now: the reply is being sent.
		if err := t.touch(ctx, cid, seq, now); err != nil {
			t.log.Debug("rpcq: rewriting a saved reply failed", "client", cid, "seq", seq, "error", err)
		}
	}
	t.count(func(s *TableStats) { s.Duplicates++ })
	return s.reply(), true
}

// client returns the client's record and whether it has one: this
// replica's copy unless fresh is set or the copy is a lease old, else the
// bucket's.
func (t *KVTable) client(ctx context.Context, cid clientID, now time.Time, fresh bool) (knownClient, bool, error) {
	t.mu.Lock()
	c, ok := t.clients[cid]
	if ok && !fresh && now.Sub(c.written) < t.lease { // else the bucket's has expired, or will
		c.used = now
		t.clients[cid] = c
		t.mu.Unlock()
		return c, true, nil
	}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	entry, err := t.kv.Get(ctx, t.clientKey(cid))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		t.mu.Lock()
		delete(t.clients, cid)
		t.mu.Unlock()
		return knownClient{}, false, nil
	}
	if err != nil {
		return knownClient{}, false, fmt.Errorf("read client %s: %w", cid, err)
	}
	rec, err := decodeClientRecord(entry.Value())
	if err != nil {
		return knownClient{}, false, fmt.Errorf("decode client %s: %w", cid, err)
	}
	// The record's age by the bucket's clock, carried over to ours.
	c = knownClient{rec: rec, rev: entry.Revision(), written: now.Add(-time.Since(entry.Created())), used: now}
	t.mu.Lock()
	t.clients[cid] = c
	t.mu.Unlock()
	return c, true, nil
}

// Finish implements Table. A reply of up to sharedReplyMax bytes is
// saved in its client's record, in the next write of it, with the other
// replies and claims of the client's calls that wait for that write; a
// larger one, or one the record has no room for, in a call record of its
// own. Either way, Finish returns once it is stored, or found not needed
// as the client's watermark passed it.
func (t *KVTable) Finish(ctx context.Context, id RequestID, reply Reply) error {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return err
	}
	if len(reply.Body)+len(reply.Message) <= sharedReplyMax {
		switch err := t.save(ctx, cid, id.Seq, reply); {
		case err == nil, errors.Is(err, errAcknowledged): // nobody can ask for it
			return nil
		case !errors.Is(err, errSpilled):
			return fmt.Errorf("rpcq: save reply: %w", err)
		}
	}
	rec, err := Msgpack.Marshal(callRecord{Done: true, Reply: reply})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if _, err := t.kv.Put(ctx, t.callKey(cid, id.Seq), rec); err != nil {
		return fmt.Errorf("rpcq: save reply: %w", err)
	}
	return nil
}

// Expire forgets, in this replica's memory, clients it has not needed for
// a lease; the bucket forgets them by itself.
func (t *KVTable) Expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for cid, c := range t.clients {
		if now.Sub(c.used) > t.lease {
			delete(t.clients, cid)
			n++
		}
	}
	for cid, w := range t.writers {
		if _, ok := t.clients[cid]; !ok && w.open == nil && !w.writing {
			delete(t.writers, cid)
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

func (t *KVTable) waitsOnIO() {}

// Close waits for the goroutines writing clients' records, which end once
// no call waits on a write; call it after the server's Shutdown. It is
// idempotent.
func (t *KVTable) Close() { t.background.Wait() }
