// Package rpcqtest provides a lossy relay for testing rpcq under faults.
//
// A Relay stands between clients and a service on one NATS connection.
// Clients send to the relay's prefix instead of "rpcq" (set
// rpcq.ClientConfig.SubjectPrefix to Relay.Prefix()); the relay forwards
// each request to the service and each reply back, dropping, delaying,
// reordering and duplicating them as its Config says. It records every
// request so that a test can replay one later, and counts what it did so
// that a test can assert that the faults really happened.
package rpcqtest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/rpcq"
)

// DefaultPrefix is the subject prefix clients use to reach a relay.
const DefaultPrefix = "relay"

// Config says which faults a Relay injects. Fractions are from 0 to 1.
type Config struct {
	// DropRequests is the fraction of requests never forwarded.
	DropRequests float64
	// DropReplies is the fraction of replies dropped after the service
	// answered: the call ran, but its caller never hears.
	DropReplies float64
	// Duplicate is the fraction of requests forwarded twice.
	Duplicate float64
	// MaxDelay delays every forwarded message by a random time up to it,
	// which also reorders them.
	MaxDelay time.Duration
	// Seed makes the fault pattern repeatable.
	Seed uint64
	// Prefix is the subject prefix clients send to (default DefaultPrefix).
	Prefix string
}

// Stats counts what a relay did.
type Stats struct {
	Requests        int // requests received from clients
	DroppedRequests int
	Duplicated      int
	Replies         int // replies received from the service
	DroppedReplies  int
	Replayed        int
}

// Recorded is a request as a client sent it.
type Recorded struct {
	Subject string // the service's subject
	Reply   string // the client's reply subject
	Header  nats.Header
	Data    []byte
}

// Relay forwards between clients and services with faults. It is safe for
// concurrent use.
type Relay struct {
	nc     *nats.Conn
	cfg    Config
	inbox  string
	sub    *nats.Subscription
	inSub  *nats.Subscription
	timers sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	rand     *rand.Rand
	next     uint64
	replyTo  map[string]string // relay inbox token -> client reply subject
	recorded []Recorded
	stats    Stats
	closed   bool
}

// Start runs a relay on nc until t ends.
func Start(t testing.TB, nc *nats.Conn, cfg Config) *Relay {
	t.Helper()
	r, err := New(nc, cfg)
	if err != nil {
		t.Fatalf("rpcqtest: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// New runs a relay on nc; Close stops it.
func New(nc *nats.Conn, cfg Config) (*Relay, error) {
	for _, f := range []float64{cfg.DropRequests, cfg.DropReplies, cfg.Duplicate} {
		if f < 0 || f > 1 {
			return nil, fmt.Errorf("rpcqtest: fraction %v outside [0, 1]", f)
		}
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	r := &Relay{
		nc:      nc,
		cfg:     cfg,
		inbox:   nc.NewRespInbox(),
		rand:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		replyTo: map[string]string{},
	}
	var err error
	if r.sub, err = nc.Subscribe(cfg.Prefix+".>", r.onRequest); err != nil {
		return nil, err
	}
	if r.inSub, err = nc.Subscribe(r.inbox+".*", r.onReply); err != nil {
		r.sub.Unsubscribe()
		return nil, err
	}
	for _, s := range []*nats.Subscription{r.sub, r.inSub} {
		s.SetPendingLimits(-1, -1)
	}
	return r, nc.Flush()
}

// Prefix is what clients put in rpcq.ClientConfig.SubjectPrefix.
func (r *Relay) Prefix() string { return r.cfg.Prefix }

// SetDropReplies changes the fraction of replies dropped from now on: 1
// then 0 makes an outage of replies, during which every call runs and no
// caller hears.
func (r *Relay) SetDropReplies(f float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg.DropReplies = min(max(f, 0), 1)
}

// SetDropRequests changes the fraction of requests dropped from now on.
func (r *Relay) SetDropRequests(f float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg.DropRequests = min(max(f, 0), 1)
}

// Stats returns the counts so far.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Recorded returns every request received so far, in order.
func (r *Relay) Recorded() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.recorded...)
}

// Replay sends a recorded request to the service again, now, without
// faults. Its reply goes to the original caller, who has long moved on.
func (r *Relay) Replay(req Recorded) error {
	r.mu.Lock()
	r.stats.Replayed++
	r.mu.Unlock()
	return r.forward(req)
}

// Close stops relaying and waits for delayed messages to be sent.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.sub.Unsubscribe()
	r.inSub.Unsubscribe()
	r.timers.Wait()
}

func (r *Relay) onRequest(m *nats.Msg) {
	req := Recorded{
		Subject: rpcq.SubjectPrefix + strings.TrimPrefix(m.Subject, r.cfg.Prefix),
		Reply:   m.Reply,
		Header:  m.Header,
		Data:    m.Data,
	}
	r.mu.Lock()
	r.stats.Requests++
	r.recorded = append(r.recorded, req)
	drop := r.rand.Float64() < r.cfg.DropRequests
	dup := !drop && r.rand.Float64() < r.cfg.Duplicate
	switch {
	case drop:
		r.stats.DroppedRequests++
	case dup:
		r.stats.Duplicated++
	}
	r.mu.Unlock()
	if drop {
		return
	}
	r.later(func() { r.forward(req) })
	if dup {
		r.later(func() { r.forward(req) })
	}
}

// forward sends req to the service with a reply subject of the relay's.
func (r *Relay) forward(req Recorded) error {
	r.mu.Lock()
	r.next++
	token := strconv.FormatUint(r.next, 36)
	r.replyTo[token] = req.Reply
	r.mu.Unlock()
	return r.nc.PublishMsg(&nats.Msg{Subject: req.Subject, Reply: r.inbox + "." + token, Header: req.Header, Data: req.Data})
}

func (r *Relay) onReply(m *nats.Msg) {
	token := m.Subject[len(r.inbox)+1:]
	r.mu.Lock()
	to, ok := r.replyTo[token]
	delete(r.replyTo, token)
	r.stats.Replies++
	drop := r.rand.Float64() < r.cfg.DropReplies
	if drop {
		r.stats.DroppedReplies++
	}
	r.mu.Unlock()
	if !ok || drop {
		return
	}
	reply := &nats.Msg{Subject: to, Header: m.Header, Data: m.Data}
	r.later(func() { r.nc.PublishMsg(reply) })
}

// later runs send after a random delay up to MaxDelay.
func (r *Relay) later(send func()) {
	if r.cfg.MaxDelay <= 0 {
		send()
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	d := time.Duration(r.rand.Int64N(int64(r.cfg.MaxDelay)))
	r.timers.Add(1) // under mu, so never after Close has begun to Wait
	r.mu.Unlock()
	time.AfterFunc(d, func() {
		defer r.timers.Done()
		send()
	})
}
