package rpcq

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"
)

// clientID is a client's identity: when it was made (Unix nanoseconds, by
// its own clock) and 64 random bits. Its birth lets a server refuse
// requests from clients it cannot have known (see memTable.Begin) without
// remembering every client that ever expired.
type clientID struct {
	born int64
	rand uint64
}

func (id clientID) String() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(id.born))
	binary.BigEndian.PutUint64(b[8:], id.rand)
	return hex.EncodeToString(b[:])
}

// parseClientID reads the 32 hex digits of a client ID.
func parseClientID(s string) (clientID, error) {
	var b [16]byte
	if len(s) != 32 {
		return clientID{}, fmt.Errorf("client ID %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return clientID{}, fmt.Errorf("client ID %q: %v", s, err)
	}
	return clientID{born: int64(binary.BigEndian.Uint64(b[:8])), rand: binary.BigEndian.Uint64(b[8:])}, nil
}

// RequestID is what identifies a call to a duplicate table: its client and
// the call's sequence number within that client.
type RequestID struct {
	Client string
	Seq    uint64
}

// Reply is a saved answer: a body, or an error code and message.
type Reply struct {
	Code    int // 0 for success
	Message string
	Body    []byte
	JSON    bool // the body is JSON
}

// Verdict is what a duplicate table says of an arriving call.
type Verdict int

const (
	// Run: a call not seen before. Run it, then Finish it.
	Run Verdict = iota
	// Answered: a duplicate of a finished call; send the saved Reply.
	Answered
	// Running: a duplicate of a call still running; wait for it and ask
	// again, or answer CodeDuplicateRunning so that the client retries.
	Running
	// Stale: from a client the table cannot know (expired, or from before
	// the table began), or at or below the client's watermark; answer
	// CodeGone and do not run it.
	Stale
	// Forgotten: a duplicate of a call that was claimed (it ran, or may
	// have) whose saved reply has expired; answer CodeOutcomeUnknown and
	// do not run it again.
	Forgotten
)

// Table is a duplicate table: it records which calls ran and what they
// answered, so that a duplicate is answered and never run twice. Begin and
// Finish bracket every run; implementations are safe for concurrent use.
type Table interface {
	// Begin records the arrival of call id from a client that has seen
	// every reply up to seq ack, at time now. With Answered it returns the
	// saved reply; with Running, a channel closed when the call finishes.
	Begin(ctx context.Context, id RequestID, ack uint64, now time.Time) (Verdict, Reply, <-chan struct{}, error)
	// Finish saves the reply of a call that Begin let run, once the
	// reply has been sent. ctx may have ended, as the call's deadline
	// passed while it ran: the reply must be saved all the same, and a
	// table that waits on I/O bounds the wait itself.
	Finish(ctx context.Context, id RequestID, reply Reply) error
}

// ioTable is a Table whose Begin and Finish wait on I/O: the server runs
// the calls through it off their endpoints' subscriptions (see
// ServerConfig.TableWaits).
type ioTable interface {
	Table
	waitsOnIO()
}

// TableStats counts what a duplicate table decided.
type TableStats struct {
	Executions int64 // calls run
	Duplicates int64 // duplicates answered with a saved reply instead of run
	Stale      int64 // calls refused as stale
	Forgotten  int64 // duplicates of claimed calls whose reply had expired
	Clients    int   // clients remembered now
	Entries    int   // calls remembered now
}

// DefaultClientLease is how long a memory table remembers an idle client.
const DefaultClientLease = 2 * time.Minute

// MemoryTable is a duplicate table in memory: exactly-once while the
// process lives. It remembers, per client, the calls whose replies the
// client has not yet acknowledged (its watermark), so its size follows the
// calls in flight, not the calls ever made. A restarted process starts an
// empty table and refuses requests from clients born before it, rather
// than risk running them again.
type MemoryTable struct {
	since time.Time // clients born earlier are not ours to know
	lease time.Duration

	mu      sync.Mutex
	clients map[clientID]*clientState
	stats   TableStats
}

type clientState struct {
	lastSeen int64 // Unix nanoseconds
	savedCalls
}

// NewMemoryTable returns an empty table that began at since and forgets a
// client idle for longer than lease (0 means DefaultClientLease).
func NewMemoryTable(since time.Time, lease time.Duration) *MemoryTable {
	if lease <= 0 {
		lease = DefaultClientLease
	}
	return &MemoryTable{since: since, lease: lease, clients: map[clientID]*clientState{}}
}

// Begin implements Table.
func (t *MemoryTable) Begin(_ context.Context, id RequestID, ack uint64, now time.Time) (Verdict, Reply, <-chan struct{}, error) {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return 0, Reply{}, nil, Errorf(CodeBadRequest, "%v", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.clients[cid]
	if cs == nil {
		if !mayBeNew(cid.born, t.since, now, t.lease) {
			t.stats.Stale++
			return Stale, Reply{}, nil, nil
		}
		cs = &clientState{}
		t.clients[cid] = cs
	}
	cs.lastSeen = now.UnixNano()
	cs.acknowledge(ack)
	if id.Seq <= cs.ack {
		t.stats.Stale++
		return Stale, Reply{}, nil, nil
	}
	c := cs.get(id.Seq)
	if c == nil {
		cs.add(id.Seq)
		t.stats.Executions++
		return Run, Reply{}, nil, nil
	}
	if c.done {
		t.stats.Duplicates++
		return Answered, c.reply, nil, nil
	}
	if c.wait == nil {
		c.wait = make(chan struct{})
	}
	return Running, Reply{}, c.wait, nil
}

// Finish implements Table.
func (t *MemoryTable) Finish(_ context.Context, id RequestID, reply Reply) error {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.clients[cid]
	if cs == nil {
		return nil // expired meanwhile; nobody can ask again
	}
	c := cs.get(id.Seq)
	if c == nil {
		return nil // acknowledged meanwhile: the client gave up on it
	}
	c.done, c.reply = true, reply
	if c.wait != nil {
		close(c.wait)
		c.wait = nil
	}
	return nil
}

// Restore enters a call that finished before the table was made, with the
// client's watermark when it was sent and when it was: how a service that
// keeps completion records with its data rebuilds its table on restart.
// Restore calls in the order the calls arrived. An id with Seq 0 restores
// the client alone, with its watermark.
func (t *MemoryTable) Restore(id RequestID, ack uint64, reply Reply, at time.Time) error {
	cid, err := parseClientID(id.Client)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.clients[cid]
	if cs == nil {
		cs = &clientState{}
		t.clients[cid] = cs
	}
	cs.lastSeen = max(cs.lastSeen, at.UnixNano())
	cs.acknowledge(ack)
	if id.Seq <= cs.ack {
		return nil
	}
	c := cs.get(id.Seq)
	if c == nil {
		c = cs.add(id.Seq)
	}
	c.done, c.reply = true, reply
	return nil
}

// SavedClient is what a MemoryTable remembers of one client: its
// watermark, when it was last seen, and the saved replies of its finished
// calls above the watermark, in sequence order.
type SavedClient struct {
	Client   string
	Ack      uint64
	LastSeen time.Time
	Calls    []SavedCall
}

// SavedCall is a finished call's saved reply.
type SavedCall struct {
	Seq   uint64
	Reply Reply
}

// Snapshot returns what the table remembers, sorted by client, for a
// service that writes it with its data and rebuilds the table from it with
// Restore. Calls still running are left out: the service records each
// when it finishes. Saved replies share memory with the table's.
func (t *MemoryTable) Snapshot() []SavedClient {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SavedClient, 0, len(t.clients))
	for id, cs := range t.clients {
		out = append(out, SavedClient{Client: id.String(), Ack: cs.ack, LastSeen: time.Unix(0, cs.lastSeen), Calls: cs.finished()})
	}
	slices.SortFunc(out, func(a, b SavedClient) int { return cmp.Compare(a.Client, b.Client) })
	return out
}

// Expire forgets the clients idle for longer than the lease at now, except
// those with calls still running. It returns how many it forgot.
func (t *MemoryTable) Expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	horizon := now.Add(-t.lease).UnixNano()
	n := 0
	for id, cs := range t.clients {
		if cs.lastSeen < horizon && !cs.running() {
			delete(t.clients, id)
			n++
		}
	}
	return n
}

// Stats returns the counts so far and the table's size.
func (t *MemoryTable) Stats() TableStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats
	st.Clients = len(t.clients)
	for _, cs := range t.clients {
		st.Entries += cs.len()
	}
	return st
}

// mayBeNew reports whether a client unknown to a table that began at since
// can be a new one: it was born after the table began and recently enough
// that it cannot have expired. Any other unknown client may have had calls
// the table forgot, so its requests are refused, never run again. The
// birth is by the client's clock; clocks are assumed to agree to well
// within the lease.
func mayBeNew(born int64, since, now time.Time, lease time.Duration) bool {
	return born >= since.UnixNano() && born >= now.Add(-lease).UnixNano()
}
